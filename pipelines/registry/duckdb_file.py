"""The registry as one embedded DuckDB file: today's implementation of the interface.

One process writes the file at a time (DuckDB's lock); readers open it read-only, or
better its reporting copy, which no run ever holds. Every open goes through `open_file`:
the path is identified first (`pipelines.registry.identify`), so a CSV, a folder or
another application's database is refused before DuckDB creates, migrates or writes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb
import polars as pl

from pipelines.registry import keys, ledger, rulesets, staging, store
from pipelines.registry.connection_reads import ConnectionReads
from pipelines.registry.identify import (
    Content,
    NotARegistry,
    check_path,
    require_file_database,
    require_key_match,
    require_registry_tables,
)
from pipelines.registry.interface import (
    READ_LOCK_TIMEOUT_S,
    WRITE_LOCK_TIMEOUT_S,
    BatchWrite,
    Registry,
    RegistryWriter,
)
from pipelines.registry.outcome import FileOutcome, RunSummary
from pipelines.registry.publish import publish_reporting_copy, reporting_copy_path
from pipelines.registry.rules_table import record_rules
from pipelines.runtime.timing import StageTimer
from schemas.errors import DxaWarning, RegistryError
from transforms.rules.ruleset import Ruleset


class NewerSchema(RegistryError):
    """The registry was written by a newer version of this program: not written to."""


class NewerSchemaWarning(DxaWarning):
    """A reader opened a registry of a newer schema: its answers may lack new columns."""


class WrongKey(RegistryError):
    """The key file holds another key than the one the registry was encrypted with."""


class RegistryUnreadable(RegistryError):
    """A reader could not open the registry (a writer's lock, damage); says why."""


def open_file(path: Path, *, read_only: bool, lock_timeout_s: float, key: str | None = None
              ) -> duckdb.DuckDBPyConnection:
    """A connection to the registry file at `path`, after checking that it is one.

    A writer creates a missing file and migrates it (encrypted when given a `key`); a file
    of a newer schema is refused for writing and read with a warning. Nothing is migrated
    by a command that refuses.
    """
    content = check_path(path)
    if content is Content.MISSING and read_only:
        raise NotARegistry(f"no registry at {path}")
    require_key_match(path, content, key)
    try:
        con = store.connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s,
                            key=key)
    except duckdb.InvalidInputException as exc:
        if "encryption key" not in str(exc).lower():
            raise
        raise WrongKey(f"--db {path}: wrong encryption key (--key-file)") from None
    try:
        require_file_database(con, path)
        version = require_registry_tables(con, path, empty_ok=not read_only)
        known = store.latest_migration()
        if version is not None and version > known:
            message = (f"--db {path}: written by a newer version of dxa (schema {version}, "
                       f"this version knows up to {known})")
            if not read_only:
                raise NewerSchema(f"{message}; nothing was written")
            warnings.warn(f"{message}; read as it is", NewerSchemaWarning, stacklevel=2)
        if not read_only:
            store.migrate(con)
    except BaseException:
        con.close()
        raise
    return con


def _locked_message(path: Path, exc: Exception) -> str:
    """The one wording of a reader finding the registry locked (names the copy to read)."""
    if path.stem.endswith(".report"):
        return f"cannot read {path}: {exc}"
    return (f"cannot read {path}: {exc}; read the reporting copy {reporting_copy_path(path)}"
            " instead, or retry when the run has finished")


class DuckDBFileRegistry(Registry):
    """A registry held in one DuckDB file."""

    def __init__(self, location: Path | str, key: str | None = None) -> None:
        self.location = Path(location)
        self.key = key  # None: a plain file; else it is (or a writer creates it) encrypted

    def exists(self) -> bool:
        return self.location.is_file()

    @contextmanager
    def writer(self, lock_timeout_s: float = WRITE_LOCK_TIMEOUT_S
               ) -> Iterator[DuckDBWriter]:
        con = open_file(self.location, read_only=False, lock_timeout_s=lock_timeout_s,
                        key=self.key)
        try:
            yield DuckDBWriter(con, self.location, self.key)
        finally:
            con.close()

    @contextmanager
    def reader(self, lock_timeout_s: float = READ_LOCK_TIMEOUT_S
               ) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            con = open_file(self.location, read_only=True, lock_timeout_s=lock_timeout_s,
                            key=self.key)
        except store.RegistryLocked as exc:
            raise RegistryUnreadable(_locked_message(self.location, exc)) from None
        except duckdb.Error as exc:
            raise RegistryUnreadable(
                f"cannot open {self.location}: {str(exc).splitlines()[0]}") from None
        try:
            yield con
        finally:
            con.close()

    def copy_to(self, into: Path, lock_timeout_s: float) -> DuckDBFileRegistry:
        """Copy the file (and its write-ahead log) once no writer holds it."""
        # a read-only open waits for a writer to finish: the file is then consistent
        with self.reader(lock_timeout_s):
            pass
        store.copy_private(self.location, into)
        wal = self.location.with_name(self.location.name + ".wal")
        if wal.exists():
            store.copy_private(wal, into.with_name(into.name + ".wal"))
        return DuckDBFileRegistry(into, self.key)  # the byte copy keeps its encryption

    def reporting_copy(self) -> Path:
        return reporting_copy_path(self.location)


class DuckDBWriter(ConnectionReads, RegistryWriter):
    """The registry file opened for writing: one connection, held for the whole stage."""

    def __init__(self, con: duckdb.DuckDBPyConnection, location: Path,
                 key: str | None = None) -> None:
        self.con = con
        self.location = location
        self.key = key
        self._depth = 0

    @contextmanager
    def transaction(self, timer: StageTimer | None = None) -> Iterator[None]:
        """One transaction; a transaction opened inside another joins it (all or none)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with store.transaction(self.con, timer):
                yield
        finally:
            self._depth = 0

    def append(self, table: str, frame: pl.DataFrame) -> int:
        return store.insert_frame(self.con, table, frame)

    def mark_interrupted(self) -> int:
        return ledger.mark_interrupted(self.con)

    def begin_run(self, run_id: str, ruleset: str) -> None:
        ledger.begin_run(self.con, run_id, ruleset)

    def finish_run(self, run: RunSummary) -> None:
        ledger.finish_run(self.con, run)

    def set_rows_read(self, run_id: str, rows_read: int) -> None:
        ledger.set_rows_read(self.con, run_id, rows_read)

    def record_stage_seconds(self, run: RunSummary) -> None:
        ledger.record_stage_seconds(self.con, run)

    def record_file(self, run_id: str, ruleset: str, outcome: FileOutcome) -> None:
        ledger.record_file(self.con, run_id, ruleset, outcome)

    def record_ruleset(self, source: rulesets.RulesetSource, ruleset: Ruleset) -> None:
        with self.transaction():
            rulesets.record_ruleset(self.con, source)
            record_rules(self.con, ruleset)

    def set_primary(self, label: str) -> None:
        rulesets.set_primary(self.con, label)

    def forget_ruleset(self, label: str) -> tuple[int, int]:
        return rulesets.forget_ruleset(self.con, label)

    def write_batch(self, rows: BatchWrite, tables: staging.TableSet) -> None:
        staging.write_batch(self.con, rows, tables)

    def staged(self) -> AbstractContextManager[staging.TableSet]:
        return staging.staged(self.con, self.key)

    def move_staged(self, stage: staging.TableSet) -> None:
        staging.move_staged(self.con, stage)

    def publish_reporting_copy(self) -> Path:
        return publish_reporting_copy(self.location, self.con)


def open_registry(db: Path | str, key: str | None = None) -> Registry:
    """The registry named by `--db` (today always a DuckDB file), opened with `key`, else
    with the key this process was given (`keys.unlocked`: `--key-file`)."""
    return DuckDBFileRegistry(db, key if key is not None else keys.current_key())


def writer_for(con: duckdb.DuckDBPyConnection) -> DuckDBWriter:
    """A writer over a connection already open for writing (tests and the benchmark,
    which build registries stage by stage without a flow)."""
    return DuckDBWriter(con, staging.database_path(con))
