"""Load one prepared input into the registry, in one transaction.

Why per input: a file is the unit a registry re-sends and audits, so it is loaded whole or
not at all, and the row accounting (read = loaded + quarantined + duplicate) holds per file.
A large file arrives in batches: they wait in staging tables and enter the registry
together, in one transaction. Each batch is read from the registry (overlap, history),
planned (`pipelines.ingest.plan`, frames only) and written, all through the registry
interface: this module holds no SQL.
"""

from __future__ import annotations

import polars as pl

from pipelines.ingest.judge import Decider, judge
from pipelines.ingest.plan import AccountingError, admit, plan_batch
from pipelines.ingest.prepare import Batch, PreparedInput
from pipelines.registry.interface import RegistryWriter
from pipelines.registry.outcome import FileOutcome
from pipelines.registry.staging import REGISTRY, TableSet
from pipelines.runtime import progress
from pipelines.runtime.timing import Stage, StageTimer
from schemas.vocabulary import FileAction
from transforms.precision import PrecisionTable

__all__ = ["AccountingError", "Decider", "assess_loaded_input", "load_input",
           "record_failure"]


def record_failure(writer: RegistryWriter, run_id: str, ruleset: str,
                   prepared: PreparedInput) -> FileOutcome:
    """A file that could not be read: recorded with its reason, nothing else written."""
    outcome = FileOutcome.for_input(prepared, FileAction.FAILED)
    with writer.transaction():
        writer.record_file(run_id, ruleset, outcome)
    return outcome


def assess_loaded_input(writer: RegistryWriter, run_id: str, ruleset: str,
                        prepared: PreparedInput, decide: Decider) -> FileOutcome:
    """An input loaded before: add this ruleset's assessments where they are missing."""
    exams = writer.unassessed_exams(prepared.sha256 or "", ruleset)
    outcome = FileOutcome.for_input(prepared, FileAction.SKIPPED)
    with writer.transaction():
        if exams.height:
            judged = judge(exams, writer.history(exams, REGISTRY), decide, rejudge=False)
            assessments, flags = judged.assessments, judged.flags
            writer.append("assessments", assessments.with_columns(run_id=pl.lit(run_id)))
            writer.append("flags", flags.with_columns(run_id=pl.lit(run_id)))
            outcome.status = FileAction.ASSESSED
            outcome.assessments_added = assessments.height
        writer.record_file(run_id, ruleset, outcome)
    return outcome


def _load_batch(writer: RegistryWriter, run_id: str, ruleset: str, prepared: PreparedInput,
                batch: Batch, decide: Decider, precision: PrecisionTable,
                outcome: FileOutcome, timer: StageTimer, tables: TableSet = REGISTRY,
                ) -> pl.Series:
    """Read what the batch's plan needs, plan it, write it to `tables`, count it; the ids
    of the registry exams it judged again."""
    with timer.stage(Stage.OVERLAP):
        admitted = admit(batch, writer.overlap(batch.valid), prepared)
    with timer.stage(Stage.HISTORY):
        history = writer.history(admitted.valid, tables, ruleset)
    plan = plan_batch(admitted, history, prepared, decide, precision, run_id, timer)
    with timer.stage(Stage.INSERT):
        writer.write_batch(plan.rows, tables)
    outcome.rows_read += batch.rows_read
    outcome.rows_loaded += plan.rows_loaded
    outcome.rows_quarantined += plan.rows_quarantined
    outcome.rows_duplicate += batch.rows_duplicate + admitted.resent_identical
    outcome.assessments_added += plan.assessments_added
    outcome.resent_identical += admitted.resent_identical
    return plan.rejudged


def load_input(
    writer: RegistryWriter,
    run_id: str,
    ruleset: str,
    prepared: PreparedInput,
    decide: Decider,
    precision: PrecisionTable,
    timer: StageTimer | None = None,
) -> FileOutcome:
    """Load a new input: exams, assessments, flags, changes and quarantine, atomically.

    A large input arrives in batches, staged one by one and moved into the registry in
    one transaction, so the file is still loaded whole or not at all. A problem found in
    a later batch (FileProblem) discards the staged rows and is re-raised for the caller
    to record. `timer` collects the seconds of each stage (a large file's reading and
    validation included: its batches are read here).
    """
    timer = StageTimer() if timer is None else timer
    outcome = FileOutcome.for_input(prepared, FileAction.LOADED)
    if prepared.large is None:
        with writer.transaction(timer):
            again = [_load_batch(writer, run_id, ruleset, prepared, batch, decide, precision,
                                 outcome, timer) for batch in prepared.batches(timer)]
            outcome.rejudged = _distinct(again)
            _close_file(writer, run_id, ruleset, prepared, outcome, timer)
        return outcome
    blank_rows, again = 0, []
    with writer.staged() as stage:
        for batch in prepared.batches(timer):
            with writer.transaction(timer):
                again.append(_load_batch(writer, run_id, ruleset, prepared, batch, decide,
                                         precision, outcome, timer, stage))
            blank_rows += batch.blank_rows
            _report_batch(prepared, batch, outcome)
        if blank_rows:
            outcome.notes.append(f"{blank_rows} blank rows ignored")
        progress.report("batch", f"{prepared.path.name}: moving the staged rows into the"
                        " registry")
        outcome.rejudged = _distinct(again)
        with writer.transaction(timer):
            with timer.stage(Stage.STAGED_MOVE):
                writer.move_staged(stage)
            _close_file(writer, run_id, ruleset, prepared, outcome, timer)
    return outcome


def _distinct(ids: list[pl.Series]) -> int:
    """How many distinct exams the batches judged again (a later batch may judge an exam
    an earlier one judged again already)."""
    return pl.concat(ids).n_unique() if ids else 0


def _report_batch(prepared: PreparedInput, batch: Batch, outcome: FileOutcome) -> None:
    """A staged batch as progress: the file's bytes read so far (a bar on a terminal)."""
    name = prepared.path.name
    where = batch.position
    if where is None:  # not a batch of a large file: a count is all there is
        progress.report("batch", f"{name}: {outcome.rows_read:,} rows")
        return
    progress.report("batch", f"{name}: batch {where.number} of {where.batches},"
                    f" {outcome.rows_read:,} rows", completed=where.bytes_end,
                    total=where.bytes_total, unit=progress.Unit.BYTES, subject=str(prepared.path))


def _close_file(writer: RegistryWriter, run_id: str, ruleset: str, prepared: PreparedInput,
                outcome: FileOutcome, timer: StageTimer) -> None:
    """Check the row accounting and record the file, inside its transaction."""
    if outcome.rejudged:
        outcome.notes.append(
            f"{outcome.rejudged} exams judged before were judged again with this input's"
            " earlier or same-day exams as their history"
        )
    if outcome.resent_identical:
        outcome.notes.append(
            f"{outcome.resent_identical} exams already in the registry, identical:"
            " counted as duplicates"
        )
    if not outcome.balanced:  # a bug, never a data problem: refuse unaccounted rows
        raise AccountingError(
            f"row accounting does not balance for {prepared.path}: read"
            f" {outcome.rows_read}, loaded {outcome.rows_loaded}, quarantined"
            f" {outcome.rows_quarantined}, duplicate {outcome.rows_duplicate}"
        )
    with timer.stage(Stage.LEDGER):
        writer.record_file(run_id, ruleset, outcome)
