"""Publish the read-only reporting copy that quality teams keep open.

DuckDB lets one process write a file or many read it, never both: an analyst holding the
registry open would block the nightly run. So each successful run checkpoints the registry,
copies it beside itself under a temporary name, and renames the copy over
`<registry>.report.duckdb` in one atomic step. A reader holding the previous copy open keeps
reading that (unlinked) file undisturbed and never sees a half-written one; the next
connection opens the new copy.

The copy is written in a storage format DuckDB 1.4 LTS and newer open
(`store.STORAGE_VERSION`), so any SQL client reads it. A registry created in that format
is copied byte for byte (an encrypted registry's copy stays encrypted with the same key);
a registry created in a newer format (DuckDB 1.5's own) is converted on the way (`COPY
FROM DATABASE` into a file attached in the LTS format), which costs a full rewrite, so such
a registry is best rebuilt once to get the cheap path. A registry in DuckDB 2.0's format
cannot be opened by this DuckDB (1.5) at all: `identify` refuses it in one line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from pipelines.registry.store import STORAGE_VERSION, connect
from pipelines.runtime.privacy import REPORTING_COPY_MODE, private_files


def reporting_copy_path(db_path: Path | str) -> Path:
    """`registry.duckdb` -> `registry.report.duckdb` (same folder, so rename is atomic)."""
    db = Path(db_path)
    return db.with_name(f"{db.stem}.report{db.suffix or '.duckdb'}")


def publish_reporting_copy(
    db_path: Path | str,
    con: duckdb.DuckDBPyConnection | None = None,
    lock_timeout_s: float = 30.0,
    key: str | None = None,
) -> Path:
    """Checkpoint the registry, copy it, and atomically replace the reporting copy.

    `con`: the run's own write connection (its lock keeps the file still while copied);
    without it the registry is opened (with `key` when encrypted), waiting up to
    `lock_timeout_s` for a lock.
    """
    db = Path(db_path)
    target = reporting_copy_path(db)
    own = con is None
    con = connect(db, lock_timeout_s=lock_timeout_s, key=key) if con is None else con
    try:
        con.execute("CHECKPOINT")  # fold the WAL into the file so the copy is complete
        temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            # While we hold the write lock: nobody changes the registry meanwhile.
            with private_files():  # no moment where the copy is readable by others
                if opens_in_lts(storage_version(con)):
                    shutil.copyfile(db, temporary)
                else:
                    _convert_copy(con, temporary)
            os.chmod(temporary, REPORTING_COPY_MODE)
            os.replace(temporary, target)
        finally:
            for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
                if leftover.exists():
                    leftover.unlink()
    finally:
        if own:
            con.close()
    return target


def storage_version(con: duckdb.DuckDBPyConnection) -> str:
    """The storage format of the connection's database file, e.g. `v1.4.0+`."""
    rows = con.sql(
        "SELECT tags['storage_version'] FROM duckdb_databases()"
        " WHERE database_name = current_database()"
    ).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] else "unknown"


def opens_in_lts(version: str) -> bool:
    """Whether DuckDB 1.4 (and so every 1.x reader from 1.4 on) opens this storage format:
    v1.0.0 to v1.4.x; a newer one (1.5's own, `latest`) is converted for the copy."""
    parts = version.lstrip("v").rstrip("+").split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return False
    return major == 1 and minor <= 4


def _convert_copy(con: duckdb.DuckDBPyConnection, temporary: Path) -> None:
    """Copy every table, view and macro into a new file written in the LTS format."""
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        if leftover.exists():
            leftover.unlink()
    source = con.sql("SELECT current_database()").fetchall()[0][0]
    path = str(temporary).replace("'", "''")
    con.execute(f"ATTACH '{path}' AS reporting_copy (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO reporting_copy')
    finally:
        con.execute("DETACH reporting_copy")
