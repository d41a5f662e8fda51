"""Publish the read-only reporting copy that quality teams keep open.

DuckDB lets one process write a file or many read it, never both: an analyst holding the
registry open would block the nightly run. So each successful run checkpoints the registry,
copies it beside itself under a temporary name, and renames the copy over
`<registry>.report.duckdb` in one atomic step. A reader holding the previous copy open keeps
reading that (unlinked) file undisturbed and never sees a half-written one; the next
connection opens the new copy.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import duckdb

from pipelines.store import connect


def reporting_copy_path(db_path: Path | str) -> Path:
    """`registry.duckdb` -> `registry.report.duckdb` (same folder, so rename is atomic)."""
    db = Path(db_path)
    return db.with_name(f"{db.stem}.report{db.suffix or '.duckdb'}")


def publish_reporting_copy(
    db_path: Path | str,
    con: duckdb.DuckDBPyConnection | None = None,
    lock_timeout_s: float = 30.0,
) -> Path:
    """Checkpoint the registry, copy it, and atomically replace the reporting copy.

    `con`: the run's own write connection (its lock keeps the file still while copied);
    without it the registry is opened, waiting up to `lock_timeout_s` for a lock.
    """
    db = Path(db_path)
    target = reporting_copy_path(db)
    own = con is None
    con = connect(db, lock_timeout_s=lock_timeout_s) if con is None else con
    try:
        con.execute("CHECKPOINT")  # fold the WAL into the file so the copy is complete
        temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            shutil.copyfile(db, temporary)  # while we hold the write lock: nobody changes it
            os.chmod(temporary, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            os.replace(temporary, target)
        finally:
            if temporary.exists():
                temporary.unlink()
    finally:
        if own:
            con.close()
    return target
