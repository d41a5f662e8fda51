"""The `runs` table: one row per flow run, opened at the start and closed at the end."""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.outcome import RunSummary
from schemas.vocabulary import FileAction, RunStatus


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
        " files_failed = ?, message = ? WHERE run_id = ?",
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
            summary.run_id,
        ],
    )
