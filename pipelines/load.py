"""Write one prepared input into the registry, in one transaction.

Why per input: a file is the unit a registry re-sends and audits, so it is loaded whole or
not at all, and the row accounting (read = loaded + quarantined + duplicate) holds per file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import polars as pl

from pipelines.outcome import FileOutcome
from pipelines.prepare import PreparedInput
from pipelines.store import insert_frame, query, transaction
from transforms.columns import CANONICAL_COLUMNS, ROW_NUMBER
from transforms.measurements import serial_input, to_measurements
from transforms.precision import PrecisionTable
from transforms.read_csv import RAW
from transforms.serial import compare_serial

#: decide(exams, ruleset) -> (assessments, flags); injected so loading stays rule-agnostic.
Decider = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]

EXAM_COLUMNS = list(CANONICAL_COLUMNS)


def _now() -> dt.datetime:
    return dt.datetime.now()


def loaded_fingerprints(con: duckdb.DuckDBPyConnection) -> set[str]:
    """sha256 of every input already loaded into the registry."""
    rows = con.execute("SELECT file_sha256 FROM source_files WHERE status = 'loaded'").fetchall()
    return {r[0] for r in rows}


def _record_file(
    con: duckdb.DuckDBPyConnection, run_id: str, ruleset: str, outcome: FileOutcome
) -> None:
    """Keep `source_files` (one row per content) and `run_files` (per run) up to date."""
    now = _now()
    if outcome.status in ("loaded", "failed") and outcome.sha256 is not None:
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
        status="failed",
        source_format=prepared.source_format,
        sha256=prepared.sha256,
        error=prepared.error,
    )
    with transaction(con):
        _record_file(con, run_id, ruleset, outcome)
    return outcome


def _already_in_registry(con: duckdb.DuckDBPyConnection, valid: pl.DataFrame) -> pl.DataFrame:
    """Exam ids of this input that the registry already holds from another input."""
    con.register("incoming_ids", valid.select("exam_id").to_arrow())
    try:
        return query(
            con,
            "SELECT e.exam_id FROM exams e JOIN incoming_ids i USING (exam_id)",
        )
    finally:
        con.unregister("incoming_ids")


def _registry_conflicts(valid: pl.DataFrame, existing: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows for exams whose id is already loaded from another file."""
    clash = valid.join(existing, on="exam_id", how="semi")
    return clash.select(
        pl.col(ROW_NUMBER).alias("row_number"),
        pl.col("exam_id"),
        pl.lit("exam_id: already in the registry from another input").alias("errors"),
        pl.col(RAW).alias("raw"),
    )


def patient_history(con: duckdb.DuckDBPyConnection, patients: pl.DataFrame) -> pl.DataFrame:
    """Earlier measurements of the batch's patients only (never the whole registry)."""
    con.register("batch_patients", patients.select("patient_id").unique().to_arrow())
    try:
        return query(
            con,
            "SELECT e.exam_id, e.patient_id, e.exam_date, e.scanner_serial, e.on_treatment,"
            " m.site, m.bmd_g_cm2 FROM exams e SEMI JOIN batch_patients b USING (patient_id)"
            " JOIN measurements m USING (exam_id)",
        )
    finally:
        con.unregister("batch_patients")


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
        status="skipped",
        source_format=prepared.source_format,
        vendor=prepared.vendor,
        sha256=prepared.sha256,
    )
    with transaction(con):
        if exams.height:
            assessments, flags = decide(exams)
            insert_frame(con, "assessments", assessments.with_columns(run_id=pl.lit(run_id)))
            insert_frame(con, "flags", flags.with_columns(run_id=pl.lit(run_id)))
            outcome.status = "assessed"
            outcome.assessments_added = assessments.height
        _record_file(con, run_id, ruleset, outcome)
    return outcome


def load_input(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    ruleset: str,
    prepared: PreparedInput,
    decide: Decider,
    precision: PrecisionTable,
) -> FileOutcome:
    """Load a new input: exams, measurements, assessments, flags and quarantine, atomically."""
    assert prepared.valid is not None and prepared.quarantine is not None
    valid = prepared.valid
    existing = _already_in_registry(con, valid)
    conflicts = _registry_conflicts(valid, existing)
    if conflicts.height:
        valid = valid.join(existing, on="exam_id", how="anti")
    quarantine = pl.concat([prepared.quarantine, conflicts], how="vertical_relaxed")
    assessments, flags = decide(valid)
    serial = compare_serial(serial_input(valid), patient_history(con, valid), precision)
    exams = valid.select(
        *EXAM_COLUMNS,
        pl.lit(prepared.source_format).alias("source_format"),
        pl.lit(prepared.vendor, dtype=pl.String).alias("vendor"),
        pl.lit(prepared.sha256).alias("file_sha256"),
        pl.col(ROW_NUMBER).alias("source_row_number"),
        pl.lit(run_id).alias("run_id"),
    )
    outcome = FileOutcome(
        path=str(prepared.path),
        status="loaded",
        source_format=prepared.source_format,
        vendor=prepared.vendor,
        sha256=prepared.sha256,
        rows_read=prepared.rows_read,
        rows_loaded=exams.height,
        rows_quarantined=quarantine.height,
        rows_duplicate=prepared.rows_duplicate,
        assessments_added=assessments.height,
        extra_columns=prepared.extra_columns,
        excluded=prepared.excluded,
        notes=prepared.notes,
    )
    if not outcome.balanced:  # a bug, never a data problem: refuse to load unaccounted rows
        raise RuntimeError(
            f"row accounting does not balance for {prepared.path}: read {outcome.rows_read},"
            f" loaded {outcome.rows_loaded}, quarantined {outcome.rows_quarantined},"
            f" duplicate {outcome.rows_duplicate}"
        )
    run = pl.lit(run_id)
    with transaction(con):
        insert_frame(con, "exams", exams)
        insert_frame(con, "measurements", to_measurements(valid))
        insert_frame(con, "assessments", assessments.with_columns(run_id=run))
        insert_frame(con, "flags", pl.concat([flags, serial.flags], how="diagonal_relaxed")
                     .with_columns(run_id=run))
        insert_frame(con, "bmd_changes", serial.changes.with_columns(run_id=run))
        insert_frame(
            con,
            "quarantine",
            quarantine.with_columns(
                run_id=run,
                file_sha256=pl.lit(prepared.sha256),
                source_format=pl.lit(prepared.source_format),
                path=pl.lit(str(prepared.path)),
            ),
        )
        _record_file(con, run_id, ruleset, outcome)
    return outcome
