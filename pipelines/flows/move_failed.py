"""`dxa run --move-failed DIR`: inputs that failed as a whole leave the incoming folder.

Why: a file that cannot be read at all (a binary, an empty file, a damaged NHANES folder)
fails again every night it stays in the incoming folder, and a nightly log that repeats it
hides the new failures. Moved aside after the run has recorded it (`source_files` keeps
the path it was read from and why it failed), it is out of the way and kept for a person
to look at.

What moves: each input recorded `failed` in this run, whole (a folder input, such as an
NHANES or APEX export, moves as one folder), under its own name. Inputs whose rows were
quarantined loaded and stay. A link that discovery did not follow (a loop, or a folder
already read through another path) is not an export and stays. Nothing is overwritten: a
name already taken in DIR gets a suffix (`bad.csv`, `bad-1.csv`, ...), claimed atomically
so that two runs never pick the same one. Nothing is deleted: the input is renamed
(copied, then removed, only when DIR is on another file system).
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
from pathlib import Path

from pipelines.registry.outcome import RunSummary
from schemas.errors import DxaError
from schemas.vocabulary import FileAction
from sources.detect import LOOP, SEEN

#: Why an input failed when it is a link discovery did not follow: not an export.
NOT_EXPORTS = frozenset({LOOP, SEEN})


class MoveTargetRefused(DxaError):
    """`--move-failed DIR` cannot be used; refused before the run starts."""


def check_target(target: Path, inputs: list[Path]) -> None:
    """Refuse a DIR that would not work, before anything runs.

    DIR may be missing (it is created, private to its owner) but its parent must exist;
    it must not be a file; and it must not lie inside an input folder, where the next run
    would read the moved files again.
    """
    if target.exists() and not target.is_dir():
        raise MoveTargetRefused(f"--move-failed {target}: not a folder")
    if not target.exists() and not target.parent.is_dir():
        raise MoveTargetRefused(
            f"--move-failed {target}: the folder {target.parent} does not exist")
    real = target.resolve()
    for path in inputs:
        if path.is_dir() and real.is_relative_to(path.resolve()):
            raise MoveTargetRefused(f"--move-failed {target}: inside the input folder {path}"
                                    " (the next run would read what it moved there)")


def move_failed_inputs(summary: RunSummary, target: Path) -> None:
    """Move each input the run recorded as failed into `target`; note where it went.

    Sets `FileOutcome.moved_to` of each moved input; an input that cannot be moved (its
    folder is read-only, it is gone) stays, with a note saying why: the run is complete
    and recorded either way.
    """
    moved: dict[str, str] = {}  # absolute path -> where it went (an input given twice)
    for outcome in summary.files:
        if outcome.status != FileAction.FAILED or outcome.error in NOT_EXPORTS:
            continue
        source = Path(outcome.path)
        key = os.path.abspath(source)
        if key in moved:
            outcome.moved_to = moved[key]
        elif not source.exists() and not source.is_symlink():
            outcome.notes.append("not moved: no longer there")
        else:
            try:
                outcome.moved_to = moved[key] = str(move_aside(source, target))
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                outcome.notes.append(f"not moved to {target}: {reason}")


def move_aside(source: Path, target: Path) -> Path:
    """Move `source` (a file, a link or a folder) into the folder `target` under its own
    name, or the first free `name-N`; return where it went. Never overwrites."""
    if not target.is_dir():
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = source.is_dir() and not source.is_symlink()
    destination = _claim(target, source.name, folder)
    try:
        os.replace(source, destination)  # onto our own empty placeholder: atomic
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            _release(destination, folder)
            raise
        _copy_across(source, destination, folder)
    return destination


def _claim(target: Path, name: str, folder: bool) -> Path:
    """An empty placeholder under the first free name: `name`, then `stem-1.suffix`, ..."""
    stem, suffix = (name, "") if folder else (Path(name).stem, Path(name).suffix)
    for n in itertools.count():
        candidate = target / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            if folder:
                candidate.mkdir(mode=0o700)
            else:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends


def _release(placeholder: Path, folder: bool) -> None:
    if folder:
        placeholder.rmdir()
    else:
        placeholder.unlink()


def _copy_across(source: Path, destination: Path, folder: bool) -> None:
    """DIR on another file system: copy (links as links), then remove the original."""
    if folder:
        shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(source)
        return
    destination.unlink()  # our placeholder: a link is copied as a link, onto no file
    shutil.copy2(source, destination, follow_symlinks=False)
    source.unlink()
