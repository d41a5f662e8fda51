"""Find the inputs under the paths given to `dxa run` and pick a reader for each."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import FileProblem
from sources import apex, canonical, lunar, nhanes
from sources.base import (
    CANONICAL_CSV,
    GE_LUNAR_DICOM,
    HOLOGIC_APEX,
    NHANES,
    ReadOptions,
    SourceFile,
)

Reader = Callable[[Path, ReadOptions], SourceFile]
Sniffer = Callable[[Path], "str | None"]

#: format name -> (sniff, read). Adapters register here; detection tries them in order.
#: The sniffers are mutually exclusive (canonical: a .csv/.txt/.tsv file; APEX: a folder
#: holding two or more APEX table CSVs, so that an export missing Patient or ScanAnalysis
#: is still one input that fails with the table it lacks; Lunar: a .dcm file or one with
#: the DICM magic; NHANES: a folder holding a DEMO or DXXFEM .XPT file), so the order
#: only decides the order of the reasons in an "unrecognised" message.
FORMATS: dict[str, tuple[Sniffer, Reader]] = {
    CANONICAL_CSV: (canonical.sniff, canonical.read),
    HOLOGIC_APEX: (apex.sniff, apex.read),
    GE_LUNAR_DICOM: (lunar.sniff, lunar.read),
    NHANES: (nhanes.sniff, nhanes.read),
}

#: Short names accepted by `dxa run --format`.
FORMAT_ALIASES = {
    "auto": "auto",
    "canonical": CANONICAL_CSV,
    CANONICAL_CSV: CANONICAL_CSV,
    "apex": HOLOGIC_APEX,
    "hologic": HOLOGIC_APEX,
    HOLOGIC_APEX: HOLOGIC_APEX,
    "lunar": GE_LUNAR_DICOM,
    "dicom": GE_LUNAR_DICOM,
    GE_LUNAR_DICOM: GE_LUNAR_DICOM,
    NHANES: NHANES,
}

#: File names in a folder that are documentation, never exports.
_IGNORED_NAMES = {"readme.md", "readme.txt", "readme", ".gitkeep", "manifest.json"}


def _is_documentation(path: Path) -> bool:
    """Hidden files, README-like names and Markdown notes are never exports."""
    name = path.name.lower()
    return (
        name.startswith(".")
        or name in _IGNORED_NAMES
        or (path.is_file() and name.endswith(".md"))
    )


@dataclass(frozen=True)
class Input:
    """One input to ingest: a file or an export folder, with the format it is read as."""

    path: Path
    source_format: str | None  # None: no format matched (see `problem`)
    problem: str | None = None


def _detect(path: Path) -> Input:
    reasons = []
    for name, (sniff, _read) in FORMATS.items():
        why_not = sniff(path)
        if why_not is None:
            return Input(path, name)
        reasons.append(f"{name}: {why_not}")
    return Input(path, None, "unrecognised input; tried " + "; ".join(reasons))


def _is_export_folder(path: Path) -> bool:
    """A folder that one adapter reads whole (e.g. a Hologic APEX table export)."""
    return any(
        name != CANONICAL_CSV and sniff(path) is None for name, (sniff, _r) in FORMATS.items()
    )


def discover(paths: list[Path], fmt: str = "auto") -> tuple[list[Input], list[Path]]:
    """Expand files and folders into inputs, sorted for a reproducible load order.

    Returns (inputs, ignored): documentation files inside folders are listed as ignored
    so that the run summary accounts for every file it saw. Each real folder is read
    once: a symbolic link back to a folder that contains it (a loop, which would
    otherwise be followed until the system's link limit) or to a folder already read
    is an input of its own that fails with the reason, so it is reported once.
    """
    wanted = FORMAT_ALIASES.get(fmt, fmt)
    inputs: list[Input] = []
    ignored: list[Path] = []
    seen: set[Path] = set()

    def visit(path: Path, above: frozenset[Path]) -> None:
        broken = broken_link(path)
        if broken is not None:
            inputs.append(Input(path, None, broken))
            return
        if path.is_dir():
            real = path.resolve()
            if real in above:
                inputs.append(Input(path, None, LOOP))
                return
            if real in seen:
                inputs.append(Input(path, None, SEEN))
                return
            seen.add(real)
            if not (wanted == "auto" and _is_export_folder(path)) and (
                wanted in ("auto", CANONICAL_CSV) or not _folder_is_format(path, wanted)
            ):
                for child in sorted(path.iterdir()):
                    if _is_documentation(child):
                        ignored.append(child)
                        continue
                    visit(child, above | {real})
                return
        if wanted != "auto":
            inputs.append(Input(path, wanted))
            return
        inputs.append(_detect(path))

    for path in paths:
        if not path.exists() and not path.is_symlink():
            inputs.append(Input(path, None, "no such file or folder"))
            continue
        visit(path, frozenset())
    return inputs, ignored


#: Why a linked folder is not read (see `discover`).
LOOP = "symlink loop: links back to a folder that contains it (not followed)"
SEEN = "a link to a folder already read through another path (not read twice)"
#: Why a symbolic link leads to nothing that can be read (see `broken_link`).
LINK_LOOP = ("symlink loop: the symbolic link leads back to itself, directly or through "
             "other links (not followed)")
DANGLING_LINK = "a symbolic link to a file or folder that does not exist"


def broken_link(path: Path) -> str | None:
    """Why the symbolic link `path` cannot be followed, or None (not a link, or it works).

    Without this a link to itself (or two links to each other) reads "not a file" from
    every reader, and a link to a removed file "no such file or folder", which hides what
    is wrong; the system's error number tells the two apart.
    """
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LINK_LOOP
        if exc.errno == errno.ENOENT:
            return DANGLING_LINK
        return f"cannot follow the symbolic link ({(exc.strerror or 'error').lower()})"
    return None


def _folder_is_format(path: Path, fmt: str) -> bool:
    sniff = FORMATS.get(fmt, (None, None))[0]
    return sniff is not None and sniff(path) is None


def read_input(item: Input, options: ReadOptions | None = None) -> SourceFile:
    """Read one input with its format's reader; a bad input raises FileProblem."""
    if item.source_format is None:
        raise FileProblem(item.problem or "unrecognised input")
    if item.source_format not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise FileProblem(f"unknown format {item.source_format!r} (known: {known})")
    return FORMATS[item.source_format][1](item.path, options or ReadOptions())
