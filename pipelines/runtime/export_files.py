"""Files that carry registry data out of it: private, whole, or not there at all.

Worklists, research extracts and saved reports hold patient ids or registry counts, so
they are created readable by their owner only (0600) whatever the user's umask: the
file is written under a temporary name while the umask is private, set 0600, then
renamed over the output. A colleague never finds a half-written file where the real one
belongs, and no one else can read it for a moment either. A site that shares a list
does so on purpose (`chmod`, a shared folder's ACL).

A write refused by the system (a full disk, a folder not writable) is said in one line
that names the file and the system's reason, never the data being written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.runtime.messages import NO_SPACE, is_disk_full
from pipelines.runtime.privacy import make_private, private_files
from schemas.errors import DxaError


class ExportWriteError(DxaError):
    """An export's file could not be written; the message names the file and the reason."""


def temporary_name(output: Path) -> Path:
    """The hidden name beside `output` a file is written under before it is renamed."""
    return output.with_name(f".{output.name}.tmp-{os.getpid()}")


def write_reason(exc: BaseException) -> str | None:
    """Why the system refused a write (its own words, no data), or None for other errors."""
    if is_disk_full(exc):
        return NO_SPACE
    if isinstance(exc, OSError):
        return (exc.strerror or type(exc).__name__).lower()
    return None


@contextmanager
def private_output(output: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes `output`, mode 0600.

    On any error the temporary file is removed and `output` is left as it was; a refused
    write (see `write_reason`) becomes an ExportWriteError naming `output`.
    """
    temporary = temporary_name(output)
    try:
        temporary.unlink(missing_ok=True)  # a stale one would keep its old mode
        with private_files():
            yield temporary
        make_private(temporary)
        os.replace(temporary, output)
    except Exception as exc:
        reason = None if isinstance(exc, DxaError) else write_reason(exc)
        if reason is None:  # ours (already one line, e.g. another file's), or a bug
            raise
        raise ExportWriteError(f"cannot write {output}: {reason}") from None
    finally:
        temporary.unlink(missing_ok=True)


def write_private_text(output: Path, text: str) -> None:
    """Write `text` (UTF-8) to `output` through `private_output`."""
    with private_output(output) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_private_bytes(output: Path, data: bytes) -> None:
    """Write `data` to `output` through `private_output`."""
    with private_output(output) as temporary:
        temporary.write_bytes(data)
