"""File modes for the files a run writes: the registry holds patient data, so it is private.

The registry is created 0600 (its owner only). The reporting copy is 0640: a site gives a
quality team read access by making the registry's folder group-owned by that team
(`chgrp` plus the setgid bit on the folder), without opening the registry itself. Staging
databases, write-ahead logs and temporary files are created under a private umask (0077),
so they are 0600 whatever the caller's umask; the error logs are already 0600.
A mode a site sets by hand on an existing registry is left as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGISTRY_MODE = 0o600
REPORTING_COPY_MODE = 0o640
PRIVATE_UMASK = 0o077


@contextmanager
def private_files() -> Iterator[None]:
    """Every file created meanwhile is readable by its owner only (the umask is restored).

    The umask is per process; a run holds it for its whole duration, so DuckDB's
    write-ahead logs and the staging database (created mid-run) are private too.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(path: Path | str) -> None:
    """Set the registry's mode on a file this process has just created."""
    os.chmod(path, REGISTRY_MODE)
