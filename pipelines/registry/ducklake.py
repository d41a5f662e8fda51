"""The registry as a DuckLake on a PostgreSQL catalog: several sites write, many read.

A health region's DXA sites each load their own exports at night into one shared
registry while analysts and dashboards read it. A DuckDB file admits one writer and, while
it writes, no reader; a DuckLake keeps its catalog in PostgreSQL and its rows in Parquet
files on a shared data path, so every commit is a snapshot that readers see whole, and
writers in several processes (several machines) commit to the same lake.

How concurrent writers keep the registry's rules (one row per exam id, a conflicting
resend quarantined, every file all or nothing): every write transaction runs under the
lake's write lock, a PostgreSQL advisory lock (`lake_catalog`), taken before the
transaction starts, so its snapshot holds every earlier commit and its overlap check
(`reads.registry_overlap`) sees the other site's exams. We chose the lock over the two
alternatives: DuckLake's own conflict detection does not treat two appends of the same
exam id as a conflict (there are no keys), and per-site namespaces would let one exam
id live twice (a patient seen at two sites, or a site's id reused) where the registry
promises one. The price: loads into the lake take turns per file (reading, validating and
judging an input happen before, outside the lock, in each site's own process); a file
of 1M exams holds the lock for its load only.

Readers take no lock at all. A writer killed (-9) mid-file leaves no commit, only
Parquet files nobody references (`ducklake_delete_orphaned_files` removes them); its
PostgreSQL connections close, which releases its locks; the next run marks its ledger
row interrupted (only once its run lock is free: another site's live run stays running).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.registry import extensions, keys, lake_staging, store
from pipelines.registry.duckdb_file import (
    DuckDBFileRegistry,
    NewerSchema,
    NewerSchemaWarning,
    RegistryUnreadable,
)
from pipelines.registry.identify import NotARegistry
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S, WRITE_LOCK_TIMEOUT_S, Registry
from pipelines.registry.lake_address import LakeAddress
from pipelines.registry.lake_catalog import LakeCatalog
from pipelines.registry.lake_schema import end_state, lake_version, sync
from pipelines.registry.lake_writer import DuckLakeWriter
from schemas.errors import RegistryError

#: The name the lake is attached under (the connection's current database).
ALIAS = "registry"
#: The name of the DuckDB file a lake is copied into for a what-if keeps this prefix.
SOURCE = "lake_source"


class NoDataPath(RegistryError):
    """A new lake needs a data path for its Parquet files; none was given."""


def connect_lake(address: LakeAddress, *, read_only: bool, create: bool = False
                 ) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached (as `registry`) and current; `create`: the
    catalog is new and the lake is created with the address's data path."""
    con = duckdb.connect(":memory:")
    try:
        extensions.load(con, "ducklake")
        extensions.load(con, "postgres")
        options = ["READ_ONLY"] if read_only else []
        if create:
            options.append(f"DATA_PATH {store.sql_string(_data_folder(address))}")
        suffix = f" ({', '.join(options)})" if options else ""
        con.execute(f"ATTACH {store.sql_string(address.attach_string)} AS {ALIAS}{suffix}")
        con.execute(f"USE {ALIAS}")
        con.execute("SET preserve_insertion_order = false")
    except BaseException:
        con.close()
        raise
    return con


def _data_folder(address: LakeAddress) -> str:
    """The new lake's data path (a local or mounted folder is created, private)."""
    if not address.data_path:
        raise NoDataPath(f"--db {address.shown()}: a new lake needs --data-path DIR (or "
                         "DXA_DATA_PATH, or data_path in dxa.toml) for its Parquet files")
    if "://" not in address.data_path:
        Path(address.data_path).mkdir(mode=0o700, parents=True, exist_ok=True)
        return str(Path(address.data_path).resolve()) + "/"
    return address.data_path


class DuckLakeRegistry(Registry):
    """A registry held in a DuckLake whose catalog is a PostgreSQL database."""

    def __init__(self, db: Path | str, data_path: str | None = None) -> None:
        self.address = LakeAddress.parse(db, data_path)
        self.location = Path(self.address.shown())

    def exists(self) -> bool:
        catalog = LakeCatalog(self.address)
        try:
            return catalog.has_lake()
        finally:
            catalog.close()

    @contextmanager
    def writer(self, lock_timeout_s: float = WRITE_LOCK_TIMEOUT_S
               ) -> Iterator[DuckLakeWriter]:
        catalog = LakeCatalog(self.address)
        try:
            with catalog.write_lock(lock_timeout_s):  # two first writers: one creates
                con = connect_lake(self.address, read_only=False,
                                   create=not catalog.has_lake())
                try:
                    self._migrate(con)
                except BaseException:
                    con.close()
                    raise
            try:
                yield DuckLakeWriter(con, catalog, self.address, lock_timeout_s)
            finally:
                con.close()
        finally:
            catalog.close()

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        version = lake_version(con)
        known = store.latest_migration()
        if version is not None and version > known:
            raise NewerSchema(f"--db {self.address.shown()}: written by a newer version of "
                              f"dxa (schema {version}, this version knows up to {known});"
                              " nothing was written")
        if version != known:
            with store.transaction(con):
                sync(con)

    @contextmanager
    def reader(self, lock_timeout_s: float = READ_LOCK_TIMEOUT_S
               ) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.exists():
            raise NotARegistry(f"no registry at {self.address.shown()}")
        try:
            con = connect_lake(self.address, read_only=True)
        except duckdb.Error as exc:
            raise RegistryUnreadable(f"cannot open {self.address.shown()}: "
                                     f"{str(exc).splitlines()[0]}") from None
        try:
            version = lake_version(con)
            if version is not None and version > store.latest_migration():
                warnings.warn(f"--db {self.address.shown()}: written by a newer version of "
                              "dxa; read as it is", NewerSchemaWarning, stacklevel=2)
            yield con
        finally:
            con.close()

    def copy_to(self, into: Path, lock_timeout_s: float) -> DuckDBFileRegistry:
        """A DuckDB file holding the lake's committed rows (one snapshot): the what-if
        works on the file, and the lake is only read."""
        copy = DuckDBFileRegistry(into, keys.current_key())
        with copy.writer(lock_timeout_s) as writer:
            extensions.load(writer.con, "ducklake")
            extensions.load(writer.con, "postgres")
            writer.con.execute(f"ATTACH {store.sql_string(self.address.attach_string)}"
                               f" AS {SOURCE} (READ_ONLY)")
            try:
                tables = sorted(set(end_state().tables) - {"schema_migrations"})
                with writer.transaction():
                    lake_staging.copy_tables(writer.con, SOURCE, tables)
            finally:
                writer.con.execute(f"DETACH {SOURCE}")
        return copy

    def reporting_copy(self) -> Path:
        """No copy: readers read the lake's committed snapshots while sites write."""
        return self.location
