"""File modes for the files a run writes: the registry holds patient data, so it is private.

The registry is created 0600 (its owner only). The reporting copy and the page beside it
are 0640: a site gives a quality team read access by making the registry's folder
group-owned by that team (`chgrp` plus the setgid bit on the folder), without opening the
registry itself. A mode a site sets by hand on an existing registry is left as it is.

Why a umask and not only a mode per file: DuckDB creates files of its own while a
connection lives, long after `duckdb.connect` returned: the write-ahead log
(`registry.duckdb.wal`) at the first write, temporary files (`registry.duckdb.tmp/`) when a
query spills, an attached staging database. No mode can be passed to DuckDB for them, so
the private umask (0077) must be in force for the whole life of a writing connection, not
only around `connect`. Every `dxa` command holds it from start to end
(`pipelines.cli.group.DxaGroup`), the registry flow holds it for its whole run (it also
runs under a Prefect worker, without the command line), and Prefect's temporary API server
is started under it (`pipelines.runtime.temporary_api`). Files we create ourselves get
their mode when they are created (`write_text_with_mode`, `private_folder`; copies of the
registry: `pipelines.registry.store.copy_private`), whatever the umask.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGISTRY_MODE = 0o600
REPORTING_COPY_MODE = 0o640
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_UMASK = 0o077


@contextmanager
def private_files() -> Iterator[None]:
    """Every file created meanwhile is readable by its owner only (the umask is restored).

    The umask belongs to the whole process, not to a thread. That is why it is safe where
    it is held: a `dxa` command, or a flow run, is the only work of its process, and
    every file that process creates meanwhile is patient data (the registry, its
    write-ahead log and temporary files, copies of it) or Prefect's record of the run
    (its database holds the run's parameters: paths). Files meant for a group are
    given their mode explicitly (the reporting copy, the page: 0640). Nested holders
    restore 0077, so the umask stays private until the outermost one ends.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(path: Path | str) -> None:
    """Set the registry's mode on a file this process has just created."""
    os.chmod(path, REGISTRY_MODE)


def write_text_with_mode(path: Path, text: str, mode: int) -> None:
    """Write `text` to `path`, a file created (or truncated) with exactly `mode`.

    The mode is given at creation, so the file is never readable by others, not even for
    a moment; `fchmod` then gives back what a private umask took (the group's read bit).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, mode)
        handle.write(text)


def private_folder(path: Path) -> bool:
    """Create the folder `path` 0700 unless it exists (then it is left as it is).

    Its parent must exist. True when this call created it.
    """
    try:
        path.mkdir(mode=PRIVATE_FOLDER_MODE)
    except FileExistsError:
        return False
    os.chmod(path, PRIVATE_FOLDER_MODE)
    return True
