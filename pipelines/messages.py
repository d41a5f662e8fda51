"""What may be shown on a screen, stored in `runs.message` or put in a Prefect artifact.

Our own exceptions (FileProblem, RegistryLocked, RulesetError, AccountingError, ...) are
written to name files, columns and counts, never a cell's value, so their text is safe.
A foreign exception (DuckDB, polars, pydantic) may quote the data it choked on, e.g. a
duplicate key or a cell that would not cast: only its type is shown, and the details go
to a private file for whoever debugs the run.
"""

from __future__ import annotations

import os
import tempfile
import traceback

#: Top-level packages whose exception messages are written to be safe to show.
OWN_PACKAGES = frozenset({"pipelines", "transforms", "sources", "schemas", "samplegen"})


def is_own(exc: BaseException) -> bool:
    """True for exceptions raised with messages we wrote (see the module docstring)."""
    return type(exc).__module__.split(".", 1)[0] in OWN_PACKAGES


def safe_reason(exc: BaseException) -> str:
    """A one-line reason that holds no data values."""
    if is_own(exc):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def write_details(exc: BaseException) -> str:
    """Write the full traceback to a file only the current user can read; return its path."""
    fd, path = tempfile.mkstemp(prefix="dxa-error-", suffix=".log")
    with os.fdopen(fd, "w") as handle:  # mkstemp creates the file with mode 0600
        traceback.print_exception(exc, file=handle)
    return path
