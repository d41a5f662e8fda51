"""What every registry writer reads through its one DuckDB connection, written once.

Why a mixin: the embedded file and the DuckLake writers differ in how they write (locks,
transactions, staging) but read the same way, through the same SQL of `reads`,
`ledger`, `rulesets` and `reassess_sql` on the connection each holds as `con`. A third
backend that reads through a DuckDB connection inherits these too.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.registry import ledger, reads, reassess_sql, rulesets, staging, store
from transforms.rules.ruleset import Ruleset


class ConnectionReads:
    """The read side of `RegistryWriter`, over `self.con`."""

    con: duckdb.DuckDBPyConnection

    def read(self, sql: str, params: list | None = None) -> pl.DataFrame:
        return store.query(self.con, sql, params)

    def loaded_fingerprints(self) -> set[str]:
        return ledger.loaded_fingerprints(self.con)

    def check_ruleset(self, ruleset: Ruleset) -> rulesets.RulesetSource:
        return rulesets.check_ruleset(self.con, ruleset)

    def overlap(self, valid: pl.DataFrame) -> reads.RegistryOverlap:
        return reads.registry_overlap(self.con, valid)

    def history(self, patients: pl.DataFrame, tables: staging.TableSet,
                ruleset: str | None = None) -> pl.DataFrame:
        return reads.patient_history(self.con, patients, tables.history, ruleset)

    def unassessed_exams(self, file_sha256: str, ruleset: str) -> pl.DataFrame:
        return reads.unassessed_exams(self.con, file_sha256, ruleset)

    def number_pending(self, ruleset: str, latest_only: bool) -> tuple[int, int]:
        return reassess_sql.number_pending(self.con, ruleset, latest_only)

    def pending_batch(self, first: int, last: int) -> pl.DataFrame:
        return reassess_sql.pending_batch(self.con, first, last)

    def drop_pending(self) -> None:
        reassess_sql.drop_pending(self.con)

    def reading(self) -> duckdb.DuckDBPyConnection:
        return self.con
