"""Write one prepared input into the registry, in one transaction.

Why per input: a file is the unit a registry re-sends and audits, so it is loaded whole or
not at all, and the row accounting (read = loaded + quarantined + duplicate) holds per file.
A large file arrives in batches: they wait in a staging database and enter the registry
together, in one transaction (`pipelines.staging`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines import progress
from pipelines.outcome import FileOutcome
from pipelines.prepare import Batch, PreparedInput
from pipelines.staging import REGISTRY, TableSet, forget_verdicts, move_staged, staged
from pipelines.store import arrow_of, insert_frame, query, transaction
from schemas.errors import RegistryError
from schemas.vocabulary import FileAction, FileStatus
from transforms.columns import CANONICAL_COLUMNS, ROW_NUMBER
from transforms.measurements import SERIAL_EXAM_COLUMNS, serial_input
from transforms.precision import PrecisionTable
from transforms.serial import compare_serial, with_other_exams
from transforms.tscore import t_score_sources

#: decide(exams, ruleset) -> (assessments, flags); injected so loading stays rule-agnostic.
Decider = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]

EXAM_COLUMNS = list(CANONICAL_COLUMNS)


def _now() -> dt.datetime:
    return dt.datetime.now()


def loaded_fingerprints(con: duckdb.DuckDBPyConnection) -> set[str]:
    """sha256 of every input already loaded into the registry."""
    rows = con.execute(
        "SELECT file_sha256 FROM source_files WHERE status = ?", [FileStatus.LOADED]
    ).fetchall()
    return {r[0] for r in rows}


def _record_file(
    con: duckdb.DuckDBPyConnection, run_id: str, ruleset: str, outcome: FileOutcome
) -> None:
    """Keep `source_files` (one row per content) and `run_files` (per run) up to date."""
    now = _now()
    if outcome.status in (FileAction.LOADED, FileAction.FAILED) and outcome.sha256 is not None:
        con.execute("DELETE FROM source_files WHERE file_sha256 = ?", [outcome.sha256])
        con.execute(
            "INSERT INTO source_files (file_sha256, path, run_id, status, source_format, vendor,"
            " rows_read, rows_loaded, rows_quarantined, rows_duplicate, extra_columns, error,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                outcome.sha256, outcome.path, run_id, outcome.status, outcome.source_format,
                outcome.vendor, outcome.rows_read, outcome.rows_loaded,
                outcome.rows_quarantined, outcome.rows_duplicate, outcome.extra_columns,
                outcome.error, now,
            ],
        )
    con.execute(
        "INSERT INTO run_files (run_id, file_sha256, path, status, ruleset, rows_read,"
        " rows_loaded, rows_quarantined, rows_duplicate, assessments_added, error, recorded_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id, outcome.sha256, outcome.path, outcome.status, ruleset, outcome.rows_read,
            outcome.rows_loaded, outcome.rows_quarantined, outcome.rows_duplicate,
            outcome.assessments_added, outcome.error, now,
        ],
    )


def record_failure(
    con: duckdb.DuckDBPyConnection, run_id: str, ruleset: str, prepared: PreparedInput
) -> FileOutcome:
    """A file that could not be read: recorded with its reason, nothing else written."""
    outcome = FileOutcome(
        path=str(prepared.path),
        status=FileAction.FAILED,
        source_format=prepared.source_format,
        sha256=prepared.sha256,
        error=prepared.error,
    )
    with transaction(con):
        _record_file(con, run_id, ruleset, outcome)
    return outcome


def _registry_twins(con: duckdb.DuckDBPyConnection, valid: pl.DataFrame) -> pl.DataFrame:
    """The registry's exams (canonical columns) whose ids this batch also carries."""
    con.register("incoming_ids", arrow_of(valid.select("exam_id")))
    try:
        return query(
            con,
            f"SELECT {', '.join('e.' + c for c in EXAM_COLUMNS)} FROM exams e"
            " SEMI JOIN incoming_ids i USING (exam_id)",
        )
    finally:
        con.unregister("incoming_ids")


@dataclass
class RegistryOverlap:
    """Exams of a batch that the registry already holds (loaded from another input)."""

    identical: pl.DataFrame  # exam_id: the same exam sent again: counted as a duplicate
    conflicting: pl.DataFrame  # exam_id, _row_number: other content: quarantined


def registry_overlap(con: duckdb.DuckDBPyConnection, valid: pl.DataFrame) -> RegistryOverlap:
    """Split the batch's already-registered exam ids into identical resends and conflicts.

    Registries often receive cumulative exports: the same exam, unchanged, in every
    night's file. That is a duplicate, not a problem. The same id with other content is
    never overwritten silently: it is quarantined for a person to decide.
    """
    twins = _registry_twins(con, valid)
    if twins.height == 0:
        empty = valid.select("exam_id", ROW_NUMBER).clear()
        return RegistryOverlap(empty.select("exam_id"), empty)
    both = valid.select(ROW_NUMBER, *EXAM_COLUMNS).join(
        twins, on="exam_id", how="inner", suffix="_registry"
    )
    same = pl.all_horizontal(
        pl.col(c).eq_missing(pl.col(f"{c}_registry")) for c in EXAM_COLUMNS if c != "exam_id"
    )
    both = both.with_columns(same.alias("_same"))
    return RegistryOverlap(
        identical=both.filter("_same").select("exam_id"),
        conflicting=both.filter(~pl.col("_same")).select("exam_id", ROW_NUMBER),
    )


def _registry_conflicts(batch: Batch, conflicting: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows for exams whose id the registry holds with other content."""
    raw = batch.split.raw_of(conflicting.get_column(ROW_NUMBER))
    return conflicting.rename({ROW_NUMBER: "row_number"}).join(
        raw, on="row_number", how="left"
    ).select(
        "row_number",
        "exam_id",
        pl.lit("exam_id: already in the registry from another input, with other content")
        .alias("errors"),
        "raw",
    ).sort("row_number")


def patient_history(
    con: duckdb.DuckDBPyConnection,
    patients: pl.DataFrame,
    sources: tuple[str, ...] = REGISTRY.history,
) -> pl.DataFrame:
    """Earlier exams of the batch's patients only (never the whole registry).

    `sources`: the exams tables that hold history: the registry's, and the staging table
    of earlier batches of the same file. One row per exam with SERIAL_EXAM_COLUMNS (the
    BMD columns only), reshaped to sites by `serial_input`: cheaper than reading the
    `measurements` view.
    """
    # repeated ids are fine for a semi join: no unique() pass over a million ids
    con.register("batch_patients", arrow_of(patients.select("patient_id")))
    columns = ", ".join(f"e.{c}" for c in SERIAL_EXAM_COLUMNS)
    try:
        return query(
            con,
            " UNION ALL ".join(
                f"SELECT {columns} FROM {table} e SEMI JOIN batch_patients b USING (patient_id)"
                for table in sources
            ),
        )
    finally:
        con.unregister("batch_patients")


def serial_frames(
    valid: pl.DataFrame, history: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(batch, history) one row per exam and site with a BMD, as `compare_serial` takes
    them; batch exams of patients with no other exam are left out (`with_other_exams`)."""
    batch = with_other_exams(valid.select(SERIAL_EXAM_COLUMNS), history)
    return serial_input(batch), serial_input(history)


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
    outcome = FileOutcome(
        path=str(prepared.path),
        status=FileAction.SKIPPED,
        source_format=prepared.source_format,
        vendor=prepared.vendor,
        sha256=prepared.sha256,
    )
    with transaction(con):
        if exams.height:
            assessments, flags = decide(exams)
            insert_frame(con, "assessments", assessments.with_columns(run_id=pl.lit(run_id)))
            insert_frame(con, "flags", flags.with_columns(run_id=pl.lit(run_id)))
            outcome.status = FileAction.ASSESSED
            outcome.assessments_added = assessments.height
        _record_file(con, run_id, ruleset, outcome)
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
    tables: TableSet = REGISTRY,
) -> None:
    """Write one batch's exams, decisions and quarantine rows to `tables`.

    (`measurements` is a view over `exams`: nothing to write.)
    """
    valid = batch.valid
    overlap = registry_overlap(con, valid)
    if overlap.identical.height or overlap.conflicting.height:
        valid = valid.join(overlap.identical, on="exam_id", how="anti").join(
            overlap.conflicting.select("exam_id"), on="exam_id", how="anti"
        )
    _refuse_repeated_ids(valid, prepared)
    quarantine = pl.concat(
        [batch.quarantine, _registry_conflicts(batch, overlap.conflicting)],
        how="vertical_relaxed",
    )
    assessments, flags = decide(valid)
    serial = compare_serial(
        *serial_frames(valid, patient_history(con, valid, tables.history)), precision
    )
    exams = valid.select(
        *EXAM_COLUMNS,
        pl.lit(prepared.source_format).alias("source_format"),
        pl.lit(prepared.vendor, dtype=pl.String).alias("vendor"),
        pl.lit(prepared.sha256).alias("file_sha256"),
        pl.col(ROW_NUMBER).alias("source_row_number"),
        pl.lit(run_id).alias("run_id"),
    )
    run = pl.lit(run_id)
    _forget_serial_verdicts(con, serial.rejudged, tables)
    insert_frame(con, tables["exams"], exams)
    insert_frame(con, tables["assessments"], assessments.with_columns(run_id=run))
    insert_frame(con, tables["flags"], pl.concat([flags, serial.flags], how="diagonal_relaxed")
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
) -> FileOutcome:
    """Load a new input: exams, assessments, flags, changes and quarantine, atomically.

    A large input arrives in batches, staged one by one and moved into the registry in
    one transaction, so the file is still loaded whole or not at all. A problem found in
    a later batch (FileProblem) discards the staged rows and is re-raised for the caller
    to record.
    """
    outcome = FileOutcome(
        path=str(prepared.path),
        status=FileAction.LOADED,
        source_format=prepared.source_format,
        vendor=prepared.vendor,
        sha256=prepared.sha256,
        extra_columns=prepared.extra_columns,
        excluded=prepared.excluded,
        notes=list(prepared.notes),
    )
    if prepared.large is None:
        with transaction(con):
            for batch in prepared.batches():
                _load_batch(con, run_id, prepared, batch, decide, precision, outcome)
            _close_file(con, run_id, ruleset, prepared, outcome)
        return outcome
    blank_rows = 0
    with staged(con) as stage:
        for batch in prepared.batches():
            with transaction(con):
                _load_batch(con, run_id, prepared, batch, decide, precision, outcome, stage)
            blank_rows += batch.blank_rows
            progress.report("batch", f"{prepared.path.name}: {outcome.rows_read:,} rows")
        if blank_rows:
            outcome.notes.append(f"{blank_rows} blank rows ignored")
        with transaction(con):
            move_staged(con, stage)
            _close_file(con, run_id, ruleset, prepared, outcome)
    return outcome


def _close_file(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    ruleset: str,
    prepared: PreparedInput,
    outcome: FileOutcome,
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
    _record_file(con, run_id, ruleset, outcome)
