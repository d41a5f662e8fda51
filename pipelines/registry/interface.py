"""The registry interface: what the application asks of a registry, whatever stores it.

Why an interface: everything that writes, migrates or reads the registry for the stages
goes through these two classes, so a second storage backend (a DuckLake catalog, say) is
added by implementing them and passing the contract suite (`tests/registry/`), without a
change to ingest, flows or readers. Today's implementation is the embedded DuckDB file
(`pipelines.registry.duckdb_file`).

`Registry` is a location: it opens a reader (a read-only connection to the views, for
reports and lists) or a writer (the one process allowed to write, holding the lock). The
writer is the unit of the registry's rules: a file's rows in one transaction, the run's
ledger, ruleset provenance, the reporting copy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

if TYPE_CHECKING:
    from pipelines.registry.outcome import FileOutcome, RunSummary
    from pipelines.registry.reads import RegistryOverlap
    from pipelines.registry.rulesets import RulesetSource
    from pipelines.registry.staging import TableSet
    from pipelines.runtime.timing import StageTimer
    from transforms.rules.ruleset import Ruleset

#: Seconds a reader waits for a writer's lock before it says who holds the file.
READ_LOCK_TIMEOUT_S = 10.0
#: Seconds a writer waits for another process's lock.
WRITE_LOCK_TIMEOUT_S = 30.0


@dataclass
class BatchWrite:
    """Everything one batch of an input adds: frames by registry table name, and the ids
    of registry exams judged again (their serial verdicts are replaced)."""

    frames: dict[str, pl.DataFrame]
    rejudged: pl.Series = field(default_factory=lambda: pl.Series("exam_id", [], pl.String))
    #: (exam_id, ruleset) of registry exams whose decision (assessment and the ruleset's
    #: flags) the frames replace: their history changed (clinical-rules section 7a)
    reassessed: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"exam_id": pl.String, "ruleset": pl.String}))


class RegistryWriter(ABC):
    """An open registry that this process alone may write (it holds the lock)."""

    #: Where the registry lives; files published beside it (the page) are named from it.
    location: Path

    # -- transactions and frames -------------------------------------------------------
    @abstractmethod
    def transaction(self, timer: StageTimer | None = None) -> AbstractContextManager[None]:
        """All writes inside or none; `timer` counts the commit's seconds."""

    @abstractmethod
    def append(self, table: str, frame: pl.DataFrame) -> int:
        """Add a frame's rows to a table, matching columns by name."""

    @abstractmethod
    def read(self, sql: str, params: list | None = None) -> pl.DataFrame:
        """A query's rows (the writer's own view of the registry, uncommitted rows too)."""

    # -- the ledger ------------------------------------------------------------------------
    @abstractmethod
    def mark_interrupted(self) -> int:
        """Close runs left `running` by a killed process; how many."""

    @abstractmethod
    def begin_run(self, run_id: str, ruleset: str) -> None: ...

    @abstractmethod
    def finish_run(self, run: RunSummary) -> None: ...

    @abstractmethod
    def set_rows_read(self, run_id: str, rows_read: int) -> None: ...

    @abstractmethod
    def record_stage_seconds(self, run: RunSummary) -> None: ...

    @abstractmethod
    def record_file(self, run_id: str, ruleset: str, outcome: FileOutcome) -> None:
        """Keep `source_files` and `run_files` up to date for one input."""

    @abstractmethod
    def loaded_fingerprints(self) -> set[str]:
        """sha256 of every input already loaded."""

    # -- rulesets --------------------------------------------------------------------------
    @abstractmethod
    def check_ruleset(self, ruleset: Ruleset) -> RulesetSource:
        """Refuse an edited file under a held ID@VERSION, before anything is written."""

    @abstractmethod
    def record_ruleset(self, source: RulesetSource, ruleset: Ruleset) -> None:
        """Record the ruleset's file and rules (provenance, the `rules` table)."""

    @abstractmethod
    def set_primary(self, label: str) -> None: ...

    @abstractmethod
    def forget_ruleset(self, label: str) -> tuple[int, int]:
        """Remove a ruleset's assessments and flags; (assessments, flags) removed."""

    # -- what the ingest stages read and write ---------------------------------------------
    @abstractmethod
    def overlap(self, valid: pl.DataFrame) -> RegistryOverlap:
        """The batch's exam ids the registry holds: identical resends and conflicts."""

    @abstractmethod
    def history(self, patients: pl.DataFrame, tables: TableSet,
                ruleset: str | None = None) -> pl.DataFrame:
        """The registry's exams of these patients (canonical columns), never the whole
        registry; with `ruleset`, also `_assessed`: whether it has judged the exam."""

    @abstractmethod
    def unassessed_exams(self, file_sha256: str, ruleset: str) -> pl.DataFrame:
        """Exams of a loaded input that this ruleset has not judged yet."""

    @abstractmethod
    def write_batch(self, rows: BatchWrite, tables: TableSet) -> None:
        """Write one batch's frames to `tables` (inside the caller's transaction)."""

    @abstractmethod
    def staged(self) -> AbstractContextManager[TableSet]:
        """Tables where a large input's batches wait until the file moves in whole."""

    @abstractmethod
    def move_staged(self, stage: TableSet) -> None:
        """Inside the caller's transaction: the staged rows into the registry."""

    # -- re-assessment ---------------------------------------------------------------------
    @abstractmethod
    def number_pending(self, ruleset: str, latest_only: bool) -> tuple[int, int]:
        """Number the exams `ruleset` has not judged; (pending, already assessed)."""

    @abstractmethod
    def pending_batch(self, first: int, last: int) -> pl.DataFrame:
        """Pending exams numbered first..last (canonical columns)."""

    @abstractmethod
    def drop_pending(self) -> None: ...

    # -- readers ---------------------------------------------------------------------------
    @abstractmethod
    def reading(self) -> duckdb.DuckDBPyConnection:
        """The writer's connection for the end-of-run report (queries only)."""

    @abstractmethod
    def publish_reporting_copy(self) -> Path:
        """Replace the read-only reporting copy with the registry as committed."""


class Registry(ABC):
    """Where a registry lives; opens it for reading or writing."""

    location: Path

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def writer(self, lock_timeout_s: float = WRITE_LOCK_TIMEOUT_S
               ) -> AbstractContextManager[RegistryWriter]:
        """The registry opened for writing (created and migrated if needed)."""

    @abstractmethod
    def reader(self, lock_timeout_s: float = READ_LOCK_TIMEOUT_S
               ) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A read-only connection to the registry's tables, views and macros."""

    @abstractmethod
    def copy_to(self, into: Path, lock_timeout_s: float) -> Registry:
        """A copy for a what-if; the registry itself is only read."""

    @abstractmethod
    def reporting_copy(self) -> Path: ...

