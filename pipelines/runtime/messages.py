"""What may be shown on a screen, stored in `runs.message` or put in a Prefect artifact.

Our own errors (`schemas.errors.DxaError` and its subclasses) are written to name files,
columns and counts, never a cell's value; each class says whether its text is safe to
show (`safe_to_show`). A foreign exception (DuckDB, polars, pydantic) may quote the data
it choked on, e.g. a duplicate key or a cell that would not cast: only its type is shown,
and the details go to a private file for whoever debugs the run.
"""

from __future__ import annotations

import errno
import os
import tempfile
import traceback

from schemas.errors import DxaError


def is_safe(exc: BaseException) -> bool:
    """True for errors whose message we wrote to hold no data values."""
    return isinstance(exc, DxaError) and exc.safe_to_show


#: Said when a write failed for want of disk space: the operating system's own words
#: for ENOSPC (the errno names no data).
NO_SPACE = os.strerror(errno.ENOSPC).lower()

#: How libraries word a full disk when they pass on no errno: DuckDB and polars quote the
#: system's text ("...: No space left on device", "(os error 28)"), Windows its own.
_DISK_FULL_WORDS = (NO_SPACE, "no space left on device", f"(os error {errno.ENOSPC})",
                    "not enough space on the disk")


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the errors it was raised from or while handling (each once)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def is_disk_full(exc: BaseException) -> bool:
    """A write refused for want of space, here or in the error that led to this one.

    An OSError with errno ENOSPC; or a library's error whose text says so: DuckDB reports
    a full disk as a TransactionException, IOException or FatalException whose message
    ends with the system's "No space left on device", and a ROLLBACK refused after it
    raises a TransactionException of its own whose context is the full disk. Only the
    words are tested; the message itself (which may quote a path or a value) is never
    shown.
    """
    for error in _chain(exc):
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        text = str(error).lower()
        if any(words in text for words in _DISK_FULL_WORDS):
            return True
    return False


def safe_reason(exc: BaseException) -> str:
    """A one-line reason that holds no data values."""
    if is_safe(exc):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_disk_full(exc):
        return f"{type(exc).__name__}: {NO_SPACE}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def write_details(exc: BaseException) -> str:
    """Write the full traceback to a file only the current user can read; return its path."""
    fd, path = tempfile.mkstemp(prefix="dxa-error-", suffix=".log")
    with os.fdopen(fd, "w") as handle:  # mkstemp creates the file with mode 0600
        traceback.print_exception(exc, file=handle)
    return path
