"""The registry's ledger: what each run did (`runs`) and with which inputs.

`runs` has one row per flow run, opened at its start and closed at its end;
`source_files` one row per distinct input content (sha256) with what became of it;
`run_files` one row per input and run. The loader writes exams; this module writes
the record of it, inside the same transaction as the file's rows.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.registry.outcome import FileOutcome, RunSummary
from schemas.vocabulary import FileAction, FileStatus, RunStatus

#: `runs.message` of a run whose process died before it recorded its end.
INTERRUPTED_MESSAGE = (
    "the run's process ended before the run recorded its end (killed, or the machine"
    " stopped); inputs it had committed are listed in run_files, the others were not loaded"
)


def mark_interrupted(con: duckdb.DuckDBPyConnection) -> int:
    """Close the rows of runs that died `running`; return how many.

    Call with the registry open for writing: DuckDB lets one process write a file, so
    while we hold it no other run can be alive, and any row still `running` belongs to
    a process that was killed (kill -9, power cut) before it could record its end.
    """
    rows = con.execute(
        "UPDATE runs SET status = ?, finished_at = ?, message = ? WHERE status = ?"
        " RETURNING run_id",
        [RunStatus.INTERRUPTED, dt.datetime.now(), INTERRUPTED_MESSAGE, RunStatus.RUNNING],
    ).fetchall()
    return len(rows)


def begin_run(con: duckdb.DuckDBPyConnection, run_id: str, ruleset: str) -> None:
    con.execute(
        "INSERT INTO runs (run_id, started_at, status, ruleset) VALUES (?, ?, ?, ?)",
        [run_id, dt.datetime.now(), RunStatus.RUNNING, ruleset],
    )


def finish_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    files = summary.files
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, rows_read = ?, rows_loaded = ?,"
        " rows_quarantined = ?, rows_duplicate = ?, files_loaded = ?, files_skipped = ?,"
        " files_failed = ?, message = ?,"
        " stage_seconds = MAP(?::VARCHAR[], ?::DOUBLE[]) WHERE run_id = ?",
        [
            dt.datetime.now(),
            summary.status,
            summary.total("rows_read"),
            summary.total("rows_loaded"),
            summary.total("rows_quarantined"),
            summary.total("rows_duplicate"),
            sum(f.status == FileAction.LOADED for f in files),
            sum(f.status in (FileAction.SKIPPED, FileAction.ASSESSED) for f in files),
            sum(f.status == FileAction.FAILED for f in files),
            summary.message,
            *_stage_lists(summary),
            summary.run_id,
        ],
    )


def _stage_lists(summary: RunSummary) -> tuple[list[str], list[float]]:
    return list(summary.stage_seconds), list(summary.stage_seconds.values())


def record_stage_seconds(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    """Update the run's stage timings (after publishing: the copy's own seconds)."""
    con.execute(
        "UPDATE runs SET stage_seconds = MAP(?::VARCHAR[], ?::DOUBLE[]) WHERE run_id = ?",
        [*_stage_lists(summary), summary.run_id],
    )


def _now() -> dt.datetime:
    return dt.datetime.now()


def loaded_fingerprints(con: duckdb.DuckDBPyConnection) -> set[str]:
    """sha256 of every input already loaded into the registry."""
    rows = con.execute(
        "SELECT file_sha256 FROM source_files WHERE status = ?", [FileStatus.LOADED]
    ).fetchall()
    return {r[0] for r in rows}


def record_file(
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


def set_rows_read(con: duckdb.DuckDBPyConnection, run_id: str, rows_read: int) -> None:
    """A run that read exams from the registry itself (a re-assessment) says how many."""
    con.execute("UPDATE runs SET rows_read = ? WHERE run_id = ?", [rows_read, run_id])

