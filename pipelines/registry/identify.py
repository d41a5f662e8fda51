"""What a `--db` path holds, decided before DuckDB opens it.

DuckDB opens many things as a database: a path ending in `.csv` that exists becomes an
empty in-memory database (every write then vanishes), and any DuckDB file, another
application's included, is migrated on first write. So every command looks at the path
first, by its header bytes and tables, and refuses what is not a registry in one line
that names the file and what it is, before anything is written.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import duckdb

from pipelines.registry.lake_address import is_lake
from schemas.errors import RegistryError

#: A DuckDB database file carries this magic after its 8-byte checksum.
DUCKDB_MAGIC = b"DUCK"
MAGIC_OFFSET = 8

#: The storage version number follows the magic; DuckDB 1.5 reads numbers up to this one.
#: DuckDB 2.0's own format carries 999: this DuckDB (1.5) cannot open such a file at all.
VERSION_OFFSET = 12
NEWEST_READABLE_STORAGE = 68

#: The main header's first flags word (after the magic and the storage version): bit 0
#: set means the file is encrypted (DuckDB's `ENCRYPTION_KEY`).
FLAGS_OFFSET = 20
ENCRYPTED_FLAG = 1

#: First bytes of files that are often handed to `--db` by mistake, and what they are.
KNOWN_HEADERS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook or similar)"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3", "a SQLite database"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"HEADER RECORD*******LIBRARY", "a SAS transport (XPT) file"),
)

#: The table every registry holds, written by the first migration.
MIGRATIONS_TABLE = "schema_migrations"


class NotARegistry(RegistryError):
    """The path is not a DXA registry (a folder, another kind of file, another
    application's database): nothing was read or written."""


class Content(StrEnum):
    """What a path holds, as far as opening it is concerned."""

    MISSING = "missing"
    DUCKDB = "duckdb"
    ENCRYPTED = "encrypted"
    LAKE = "lake"  # a DuckLake catalog (`ducklake:postgres:...`), checked when opened


def describe_header(head: bytes) -> str:
    """A person's name for a file that is not a DuckDB file, from its first bytes."""
    if not head:
        return "an empty file"
    for magic, name in KNOWN_HEADERS:
        if head.startswith(magic):
            return name
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a DuckDB file"
    return "a text file (CSV or similar), not a DuckDB file"


def check_path(path: Path) -> Content:
    """MISSING, DUCKDB, ENCRYPTED or LAKE; anything else is refused with what it is."""
    if is_lake(path):
        return Content.LAKE
    if path.is_dir():
        raise NotARegistry(f"--db {path}: is a folder, not a registry file")
    if not path.exists():
        if path.is_symlink():
            raise NotARegistry(f"--db {path}: is a symbolic link to nothing")
        return Content.MISSING
    if not path.is_file():
        raise NotARegistry(f"--db {path}: is not a regular file")
    with path.open("rb") as handle:
        head = handle.read(64)
    if head[MAGIC_OFFSET:MAGIC_OFFSET + len(DUCKDB_MAGIC)] != DUCKDB_MAGIC:
        raise NotARegistry(f"--db {path}: is {describe_header(head)}; a registry is a "
                           "DuckDB file")
    storage = int.from_bytes(head[VERSION_OFFSET:VERSION_OFFSET + 8], "little")
    if storage > NEWEST_READABLE_STORAGE:
        raise NotARegistry(f"--db {path}: is in DuckDB 2.0's storage format, which this dxa "
                           "(DuckDB 1.5) cannot open; convert it (README: DuckDB version)")
    if len(head) > FLAGS_OFFSET and head[FLAGS_OFFSET] & ENCRYPTED_FLAG:
        return Content.ENCRYPTED
    return Content.DUCKDB


def require_key_match(path: Path, content: Content, key: str | None) -> None:
    """An encrypted file needs the key; a plain file is not opened with one (a key there
    means the wrong file was named, and a plain registry is never re-encrypted silently)."""
    if content is Content.ENCRYPTED and key is None:
        raise NotARegistry(f"--db {path}: encrypted: give --key-file (or DXA_KEY_FILE)")
    if content is Content.DUCKDB and key is not None:
        raise NotARegistry(f"--db {path}: is not encrypted; run without --key-file "
                           "(and DXA_KEY_FILE)")


def user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables of the main database (views and macros aside)."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND NOT temporary ORDER BY 1").fetchall()]


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The highest migration the file has applied, or None when it holds none."""
    if MIGRATIONS_TABLE not in user_tables(con):
        return None
    found = con.execute(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").fetchall()[0][0]
    return None if found is None else int(found)


def require_registry_tables(con: duckdb.DuckDBPyConnection, path: Path, *,
                            empty_ok: bool) -> int | None:
    """The file's schema version; refuse a DuckDB file that holds other tables.

    `empty_ok`: a DuckDB file with no table at all becomes a registry (a writer creating
    one); a reader finds nothing to read in it and is refused.
    """
    version = schema_version(con)
    if version is not None:
        return version
    tables = user_tables(con)
    if tables:
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise NotARegistry(f"--db {path}: is a DuckDB file of another application (tables "
                           f"{shown}), not a DXA registry; nothing was written")
    if not empty_ok:
        raise NotARegistry(f"--db {path}: is an empty DuckDB file, not a DXA registry")
    return None


def require_file_database(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a connection DuckDB opened in memory instead of on the file."""
    rows = con.execute("SELECT path FROM duckdb_databases()"
                       " WHERE database_name = current_database()").fetchall()
    if not rows or not rows[0][0]:
        raise NotARegistry(f"--db {path}: DuckDB did not open it as a database file; "
                           "name a .duckdb file")
