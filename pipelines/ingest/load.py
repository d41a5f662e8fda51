"""Write one prepared input into the registry, in one transaction.

Why per input: a file is the unit a registry re-sends and audits, so it is loaded whole or
not at all, and the row accounting (read = loaded + quarantined + duplicate) holds per file.
A large file arrives in batches: they wait in a staging database and enter the registry
together, in one transaction (`pipelines.registry.staging`).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import polars as pl

from pipelines.ingest.outcome import FileOutcome
from pipelines.ingest.prepare import Batch, PreparedInput
from pipelines.registry.ledger import record_file
from pipelines.registry.reads import (
    EXAM_COLUMNS,
    patient_history,
    registry_conflicts,
    registry_overlap,
    serial_frames,
)
from pipelines.registry.staging import REGISTRY, TableSet, forget_verdicts, move_staged, staged
from pipelines.registry.store import arrow_of, insert_frame, query, transaction
from pipelines.runtime import progress
from pipelines.runtime.timing import Stage, StageTimer
from schemas.errors import RegistryError
from schemas.vocabulary import FileAction
from transforms.columns import ROW_NUMBER
from transforms.precision import PrecisionTable
from transforms.serial import compare_serial
from transforms.tscore import t_score_sources

#: decide(exams, ruleset) -> (assessments, flags); injected so loading stays rule-agnostic.
Decider = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


def assess_loaded_input(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    ruleset: str,
    prepared: PreparedInput,
    decide: Decider,
) -> FileOutcome:
    """An input loaded before: add this ruleset's assessments where they are missing."""
    exams = query(
        con,
        f"SELECT {', '.join(EXAM_COLUMNS)} FROM exams WHERE file_sha256 = ? AND exam_id NOT IN"
        " (SELECT exam_id FROM assessments WHERE ruleset = ?)",
        [prepared.sha256, ruleset],
    )
    outcome = FileOutcome.for_input(prepared, FileAction.SKIPPED)
    with transaction(con):
        if exams.height:
            assessments, flags = decide(exams)
            insert_frame(con, "assessments", assessments.with_columns(run_id=pl.lit(run_id)))
            insert_frame(con, "flags", flags.with_columns(run_id=pl.lit(run_id)))
            outcome.status = FileAction.ASSESSED
            outcome.assessments_added = assessments.height
        record_file(con, run_id, ruleset, outcome)
    return outcome


class AccountingError(RegistryError, RuntimeError):
    """Rows of an input are not all accounted for, or an exam id would be held twice: a
    bug, never a data problem, so the input is not loaded."""


def _refuse_repeated_ids(valid: pl.DataFrame, prepared: PreparedInput) -> None:
    """Stop before writing if an exam id occurs twice among the exams about to load.

    `exams` has no key index (migration 006): duplicate verdicts and `registry_overlap`
    keep ids unique, and this check makes a slip in them (or a join that fans out) fail
    loudly instead of loading an exam twice. It looks at the frame actually written, so
    it costs one count of distinct ids (~0.1 s per million exams). (No id is shown: ids
    may identify a patient.)
    """
    if valid.select(pl.col("exam_id").n_unique()).item() == valid.height:  # the usual case
        return
    repeated = int(valid.get_column("exam_id").is_duplicated().sum())
    if repeated:
        raise AccountingError(
            f"{repeated} exams of {prepared.path} share an exam id after the duplicate"
            " checks; nothing was loaded from the file"
        )


def _forget_serial_verdicts(
    con: duckdb.DuckDBPyConnection, exam_ids: pl.Series, tables: TableSet
) -> None:
    """Drop the change verdicts and serial flags of exams being judged again.

    Staged loads also note the ids, so that the registry's own verdicts of those exams
    are replaced when the file moves in.
    """
    if exam_ids.len() == 0:
        return
    con.register("rejudged_ids", arrow_of(exam_ids.to_frame("exam_id")))
    try:
        ids = "SELECT exam_id FROM rejudged_ids"
        forget_verdicts(con, tables, ids)
        if tables.rejudged:
            con.execute(f"INSERT INTO {tables.rejudged} {ids}")
    finally:
        con.unregister("rejudged_ids")


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    prepared: PreparedInput,
    batch: Batch,
    decide: Decider,
    precision: PrecisionTable,
    outcome: FileOutcome,
    timer: StageTimer,
    tables: TableSet = REGISTRY,
) -> None:
    """Write one batch's exams, decisions and quarantine rows to `tables`.

    (`measurements` is a view over `exams`: nothing to write.)
    """
    valid = batch.valid
    with timer.stage(Stage.OVERLAP):
        overlap = registry_overlap(con, valid)
    if overlap.identical.height or overlap.conflicting.height:
        valid = valid.join(overlap.identical, on="exam_id", how="anti").join(
            overlap.conflicting.select("exam_id"), on="exam_id", how="anti"
        )
    _refuse_repeated_ids(valid, prepared)
    quarantine = pl.concat(
        [batch.quarantine, registry_conflicts(batch, overlap.conflicting)],
        how="vertical_relaxed",
    )
    with timer.stage(Stage.DECIDE):
        assessments, flags = decide(valid)
    with timer.stage(Stage.HISTORY):
        history = patient_history(con, valid, tables.history)
    with timer.stage(Stage.SERIAL):
        serial = compare_serial(*serial_frames(valid, history), precision)
    exams = valid.select(
        *EXAM_COLUMNS,
        pl.lit(prepared.source_format).alias("source_format"),
        pl.lit(prepared.vendor, dtype=pl.String).alias("vendor"),
        pl.lit(prepared.sha256).alias("file_sha256"),
        pl.col(ROW_NUMBER).alias("source_row_number"),
        pl.lit(run_id).alias("run_id"),
    )
    run = pl.lit(run_id)
    with timer.stage(Stage.INSERT):
        _forget_serial_verdicts(con, serial.rejudged, tables)
        insert_frame(con, tables["exams"], exams)
        insert_frame(con, tables["assessments"], assessments.with_columns(run_id=run))
        insert_frame(con, tables["flags"], pl.concat([flags, serial.flags],
                                                     how="diagonal_relaxed")
                     .with_columns(run_id=run))
        insert_frame(con, tables["bmd_changes"], serial.changes.with_columns(run_id=run))
        _insert_side_rows(con, tables, prepared, valid, run_id)
        insert_frame(
            con,
            tables["quarantine"],
            quarantine.with_columns(
                run_id=run,
                file_sha256=pl.lit(prepared.sha256),
                source_format=pl.lit(prepared.source_format),
                path=pl.lit(str(prepared.path)),
            ),
        )
    outcome.rows_read += batch.rows_read
    outcome.rows_loaded += exams.height
    outcome.rows_quarantined += quarantine.height
    outcome.rows_duplicate += batch.rows_duplicate + overlap.identical.height
    outcome.assessments_added += assessments.height
    outcome.resent_identical += overlap.identical.height


def _insert_side_rows(
    con: duckdb.DuckDBPyConnection,
    tables: TableSet,
    prepared: PreparedInput,
    valid: pl.DataFrame,
    run_id: str,
) -> None:
    """Rows beside the exams just written: computed T-scores, and the adapter's side
    tables (survey design), for the loaded exams only."""
    stamp = {"file_sha256": pl.lit(prepared.sha256), "run_id": pl.lit(run_id)}
    insert_frame(con, tables["t_score_sources"], t_score_sources(valid).with_columns(**stamp))
    loaded = valid.select("exam_id")
    for table, rows in prepared.side_tables.items():
        insert_frame(con, tables[table],
                     rows.join(loaded, on="exam_id", how="semi").with_columns(**stamp))


def load_input(
    con: duckdb.DuckDBPyConnection,
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
        with transaction(con, timer):
            for batch in prepared.batches(timer):
                _load_batch(con, run_id, prepared, batch, decide, precision, outcome, timer)
            _close_file(con, run_id, ruleset, prepared, outcome, timer)
        return outcome
    blank_rows = 0
    with staged(con) as stage:
        for batch in prepared.batches(timer):
            with transaction(con, timer):
                _load_batch(con, run_id, prepared, batch, decide, precision, outcome, timer,
                            stage)
            blank_rows += batch.blank_rows
            progress.report("batch", f"{prepared.path.name}: {outcome.rows_read:,} rows")
        if blank_rows:
            outcome.notes.append(f"{blank_rows} blank rows ignored")
        with transaction(con, timer):
            with timer.stage(Stage.STAGED_MOVE):
                move_staged(con, stage)
            _close_file(con, run_id, ruleset, prepared, outcome, timer)
    return outcome


def _close_file(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    ruleset: str,
    prepared: PreparedInput,
    outcome: FileOutcome,
    timer: StageTimer,
) -> None:
    """Check the row accounting and record the file, inside its transaction."""
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
        record_file(con, run_id, ruleset, outcome)
