"""A DuckLake registry open for writing: the interface's writer over a lake connection.

Every write transaction holds the lake's write lock (`lake_catalog`, why there); the
statements are the file backend's own (`ledger`, `reads`, `staging`, `rulesets`), which
use no key, index or `RETURNING`, except where a lake needs its own: closing interrupted
runs (another site's live run is not interrupted) and forgetting a ruleset inside the
writer's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from pipelines.registry import lake_staging, ledger, rulesets, staging, store
from pipelines.registry.connection_reads import ConnectionReads
from pipelines.registry.interface import BatchWrite, RegistryWriter
from pipelines.registry.lake_address import LakeAddress
from pipelines.registry.lake_catalog import LakeCatalog
from pipelines.registry.outcome import FileOutcome, RunSummary
from pipelines.registry.rules_table import record_rules
from pipelines.runtime.timing import StageTimer
from schemas.vocabulary import RunStatus
from transforms.rules.ruleset import Ruleset


def files_location(con: duckdb.DuckDBPyConnection, address: LakeAddress) -> Path:
    """Where files published beside the registry go (the page): the lake's data path, when
    it is a folder, else the current folder; named `registry`."""
    rows = con.execute("SELECT tags['data_path'] FROM duckdb_databases()"
                       " WHERE database_name = current_database()").fetchall()
    folder = str(rows[0][0]) if rows and rows[0][0] else ""
    return (Path(folder) if folder and "://" not in folder else Path.cwd()) / "registry"


class DuckLakeWriter(ConnectionReads, RegistryWriter):
    """The lake opened for writing: one connection, a catalog connection for the locks."""

    def __init__(self, con: duckdb.DuckDBPyConnection, catalog: LakeCatalog,
                 address: LakeAddress, lock_timeout_s: float) -> None:
        self.con = con
        self.catalog = catalog
        self.address = address
        self.lock_timeout_s = lock_timeout_s
        self.location = files_location(con, address)
        self._depth = 0
        self._locks = 0

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The lake's write lock, taken once however deeply blocks nest."""
        if self._locks:
            self._locks += 1
            try:
                yield
            finally:
                self._locks -= 1
            return
        with self.catalog.write_lock(self.lock_timeout_s):
            self._locks = 1
            try:
                yield
            finally:
                self._locks = 0

    @contextmanager
    def transaction(self, timer: StageTimer | None = None) -> Iterator[None]:
        """One transaction under the write lock; a nested one joins it (all or none)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self._locked():
            self._depth = 1
            try:
                with store.transaction(self.con, timer):
                    yield
            finally:
                self._depth = 0

    def append(self, table: str, frame: pl.DataFrame) -> int:
        with self.transaction():
            return store.insert_frame(self.con, table, frame)

    def mark_interrupted(self) -> int:
        """Close `running` runs whose process is gone (nobody holds their run lock)."""
        with self.transaction():
            running = [r[0] for r in self.con.execute(
                "SELECT run_id FROM runs WHERE status = ?", [RunStatus.RUNNING]).fetchall()]
            dead = [run for run in running if not self.catalog.run_alive(run)]
            if dead:
                self.con.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, message = ?"
                    " WHERE list_contains(?, run_id)",
                    [RunStatus.INTERRUPTED, dt.datetime.now(), ledger.INTERRUPTED_MESSAGE,
                     dead])
        return len(dead)

    def begin_run(self, run_id: str, ruleset: str) -> None:
        self.catalog.hold_run(run_id)
        with self.transaction():
            ledger.begin_run(self.con, run_id, ruleset)

    def finish_run(self, run: RunSummary) -> None:
        with self.transaction():
            ledger.finish_run(self.con, run)

    def set_rows_read(self, run_id: str, rows_read: int) -> None:
        with self.transaction():
            ledger.set_rows_read(self.con, run_id, rows_read)

    def record_stage_seconds(self, run: RunSummary) -> None:
        with self.transaction():
            ledger.record_stage_seconds(self.con, run)

    def record_file(self, run_id: str, ruleset: str, outcome: FileOutcome) -> None:
        with self.transaction():
            ledger.record_file(self.con, run_id, ruleset, outcome)

    def record_ruleset(self, source: rulesets.RulesetSource, ruleset: Ruleset) -> None:
        with self.transaction():
            rulesets.record_ruleset(self.con, source)
            record_rules(self.con, ruleset)

    def set_primary(self, label: str) -> None:
        with self.transaction():
            rulesets.set_primary(self.con, label)

    def forget_ruleset(self, label: str) -> tuple[int, int]:
        with self.transaction():
            rulesets.refuse_primary(self.con, label)
            return rulesets.forget_rows(self.con, label)

    def write_batch(self, rows: BatchWrite, tables: staging.TableSet) -> None:
        with self.transaction():
            staging.write_batch(self.con, rows, tables)

    @contextmanager
    def staged(self) -> Iterator[staging.TableSet]:
        """Staging on local disk; the write lock held until the file has moved in."""
        with self._locked(), lake_staging.staged(self.con) as stage:
            yield stage

    def move_staged(self, stage: staging.TableSet) -> None:
        with self.transaction():
            staging.move_staged(self.con, stage)

    def publish_reporting_copy(self) -> Path:
        """Nothing to copy: readers read the lake's committed snapshots; its address."""
        return Path(self.address.shown())
