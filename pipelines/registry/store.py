"""The DuckDB registry: opening it (with a bounded wait on locks), migrations, bulk loads.

All bulk writes go through Arrow: a polars frame is registered with DuckDB and copied with
`INSERT ... BY NAME SELECT`, never row by row. Callers wrap each file's writes in one
transaction so that a file is loaded whole or not at all.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.registry import extensions
from pipelines.registry.comments import apply_comments
from pipelines.runtime.privacy import make_private, private_files
from pipelines.runtime.timing import Stage, StageTimer
from schemas.errors import RegistryError

MIGRATIONS_PACKAGE = "pipelines.registry.migrations"

#: Storage format of the DuckDB files we create: the long-term-support release (1.4) and
#: every newer one open it, so the PyPI DuckDB CLI (1.5) and SQL clients that embed 1.4
#: (DBeaver, ...) read the registry and its reporting copy. DuckDB 2.0's default (v2.0.0)
#: locks them out. A file keeps the format it was created with; the setting does not
#: change an existing file (publish.py converts the reporting copy of an older registry).
STORAGE_VERSION = "v1.4.0"
#: The name an encrypted registry is attached under (the connection's current database).
ENCRYPTED_ALIAS = "registry"


class RegistryLocked(RegistryError):
    """Another process holds the registry file; nothing was written."""


class RegistryUnavailable(RegistryError):
    """The registry file cannot be opened or created where it was asked for."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def sql_string(text: str) -> str:
    """`text` as a SQL string literal (ATTACH takes no parameters): quotes doubled, so a
    path like `o'brien/registry.duckdb` (or a key holding a quote) is one literal, never SQL."""
    return "'" + text.replace("'", "''") + "'"


def _open(db_path: Path | str, read_only: bool, key: str | None) -> duckdb.DuckDBPyConnection:
    """A plain file opened directly; an encrypted one attached (with its key) to an
    in-memory database and made current, so `current_database()` names the file."""
    config = {"storage_compatibility_version": STORAGE_VERSION}
    if key is None:
        return duckdb.connect(str(db_path), read_only=read_only, config=config)
    con = duckdb.connect(":memory:", config=config)
    try:
        if not read_only:  # writing encrypted pages needs httpfs's cryptography
            extensions.load(con, "httpfs")
        options = f"ENCRYPTION_KEY {sql_string(key)}"
        options += ", READ_ONLY" if read_only else f", STORAGE_VERSION '{STORAGE_VERSION}'"
        con.execute(f"ATTACH {sql_string(str(db_path))} AS {ENCRYPTED_ALIAS} ({options})")
        con.execute(f"USE {ENCRYPTED_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def connect(
    db_path: Path | str, *, read_only: bool = False, lock_timeout_s: float = 30.0,
    key: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the registry, waiting up to `lock_timeout_s` for another process's lock.

    DuckDB lets one process write a file or many read it, never both; a quality analyst
    who opened the registry itself (rather than the reporting copy) blocks the nightly
    run, so we wait a bounded time and then fail with a message that names the lock.
    `key`: the file is (or is created) encrypted with it.
    """
    folder = Path(db_path).parent
    if not folder.is_dir():
        raise RegistryUnavailable(f"the registry's folder does not exist: {folder}")
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.2
    creating = not read_only and not Path(db_path).exists()
    while True:
        try:
            with private_files():
                con = _open(db_path, read_only, key)
            if creating:
                make_private(db_path)
            # Row order in the tables is never relied on (queries sort): ~1.2x faster loads.
            con.execute("SET preserve_insertion_order = false")
            return con
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                holder = str(exc).split("Conflicting lock is held in", 1)[-1].strip()
                raise RegistryLocked(
                    f"registry {db_path} is locked by another process ({holder}); "
                    f"waited {lock_timeout_s:g} s, wrote nothing"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


@contextmanager
def registry(
    db_path: Path | str, *, read_only: bool = False, lock_timeout_s: float = 30.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated connection that is closed on exit (tasks open their own)."""
    con = connect(db_path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        if not read_only:
            migrate(con)
        yield con
    finally:
        con.close()


@cache
def _migrations() -> tuple[tuple[int, str, str], ...]:
    """(version, name, sql) of every numbered migration shipped with the package (read
    once per process: every open of a registry asks, a run opens it three times)."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def latest_migration() -> int:
    """The highest migration number this version ships (a newer file is not written)."""
    return max(version for version, _, _ in _migrations())


def copy_private(source: Path, target: Path) -> None:
    """Copy a registry file into a new file that is private from its first byte."""
    with private_files(), source.open("rb") as reading, target.open("xb") as writing:
        shutil.copyfileobj(reading, writing, 1 << 20)
    make_private(target)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not yet recorded in `schema_migrations`, then the comments of
    `comments.toml` that differ (`pipelines.registry.comments`); return the versions."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in _migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)", [version, name]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    with transaction(con):
        apply_comments(con)
    return applied


def arrow_of(frame: pl.DataFrame) -> pa.Table:
    """A polars frame as Arrow for DuckDB, without copying its strings.

    polars holds text as string views; the default (oldest-compatible) export copies every
    string into a classic Arrow string array (~0.4 s per million-exam load). DuckDB reads
    string views natively, so the newest Arrow layout is handed over as is.
    """
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Bulk-insert a polars frame through Arrow, matching columns by name."""
    if frame.height == 0:
        return 0
    con.register("incoming_frame", arrow_of(frame))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_frame")
    finally:
        con.unregister("incoming_frame")
    return frame.height


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a query and return a polars frame (DuckDB 2 has no `execute().pl()`)."""
    return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()


@contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, timer: StageTimer | None = None
) -> Iterator[None]:
    """All of a file's writes or none of them; `timer` counts the commit's seconds."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    start = time.perf_counter()
    con.execute("COMMIT")
    if timer is not None:
        timer.add(Stage.COMMIT, time.perf_counter() - start)
