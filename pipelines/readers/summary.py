"""The run summary: counts per file, quarantine reasons, categories. No patient identifiers.

The summary's counts become one report (`run_report`), which feeds the terminal table, the
JSON output and the Prefect artifact, so the three never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import duckdb

from pipelines.readers.reporting import order
from pipelines.readers.reporting.model import Report, Section, counts, text
from pipelines.readers.reporting.render_json import report_dict
from pipelines.readers.reporting.render_text import to_markdown as report_markdown
from pipelines.registry.outcome import RunSummary


def _counts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict[str, int]:
    return {str(k): int(v) for k, v in con.execute(sql, params).fetchall()}


def collect_run_counts(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    """Fill the summary's aggregate counts for this run's rows from the registry.

    Reasons and flags come most frequent first; categories and treatment levels in
    clinical order.
    """
    run = [summary.run_id]
    summary.quarantine_reasons = _counts(
        con,
        "SELECT reason, count(*) FROM (SELECT unnest(string_split(errors, '; ')) AS reason"
        " FROM quarantine WHERE run_id = ?) GROUP BY reason ORDER BY 2 DESC, 1",
        run,
    )
    summary.categories = _counts(
        con,
        "FROM (SELECT coalesce(who_category, z_category, basis) AS category, count(*)"
        " FROM assessments WHERE run_id = ? AND ruleset = ? GROUP BY 1)"
        f" ORDER BY {order.sort_key('category', order.CATEGORIES)}",
        [summary.run_id, summary.ruleset],
    )
    summary.treatments = _counts(
        con,
        "FROM (SELECT treatment, count(*) FROM assessments WHERE run_id = ? AND ruleset = ?"
        f" GROUP BY 1) ORDER BY {order.sort_key('treatment', order.TREATMENTS)}",
        [summary.run_id, summary.ruleset],
    )
    summary.flags = _counts(
        con,
        "SELECT code, count(*) FROM flags WHERE run_id = ? GROUP BY 1 ORDER BY 2 DESC, 1",
        run,
    )


_TOTALS = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")


def _counted(key: str, title: str, name: str, unit: str, values: dict[str, int]) -> Section:
    return Section(key=key, title=title, columns=(text(name), counts(unit)),
                   rows=tuple(values.items()))


def run_report(summary: RunSummary, day: dt.date | None = None) -> Report:
    """The run summary as a report: the run's totals, each input, then this run's counts."""
    run = Section(
        key="run", title=f"run {summary.run_id}", record=True,
        columns=(text("run_id"), text("ruleset"), text("status"), counts("files"),
                 counts("files_failed"), *(counts(k) for k in _TOTALS), text("message")),
        rows=((summary.run_id, summary.ruleset, str(summary.status), len(summary.files),
               summary.files_failed, *(summary.total(k) for k in _TOTALS),
               summary.message),),
    )
    files = Section(
        key="files", title="inputs",
        columns=(text("path", "input"), text("format"), text("status"),
                 counts("rows_read", "read"), counts("rows_loaded", "loaded"),
                 counts("rows_quarantined", "quarantined"),
                 counts("rows_duplicate", "duplicate"), text("note")),
        rows=tuple((f.path, f.source_format, str(f.status), f.rows_read, f.rows_loaded,
                    f.rows_quarantined, f.rows_duplicate, f.error) for f in summary.files),
    )
    return Report(kind="run", title=f"DXA registry run {summary.run_id}",
                  as_of=day or dt.date.today(), sections=(
        run, files,
        _counted("quarantine_reasons", "quarantine reasons", "reason", "rows",
                 summary.quarantine_reasons),
        _counted("categories", "categories", "category", "exams", summary.categories),
        _counted("treatment", "treatment", "treatment", "exams", summary.treatments),
        _counted("flags", "flags", "code", "flags", summary.flags),
    ))


def to_markdown(summary: RunSummary) -> str:
    """Markdown for the Prefect artifact: counts and reasons only, never ids or raw rows."""
    text_ = report_markdown(run_report(summary), heading="#", skip_empty=True)
    if summary.message:
        text_ += f"\nNote: {summary.message}\n"
    return text_


def summary_json(summary: RunSummary) -> dict[str, object]:
    """`dxa run --json`: the run's totals at the top level, then the run's sections and the
    registry report, both in the report model's JSON shape (numbers as numbers)."""
    data: dict[str, object] = {
        "run_id": summary.run_id, "ruleset": summary.ruleset, "status": str(summary.status),
        "db_path": summary.db_path, "message": summary.message,
        "reporting_copy": summary.reporting_copy,
        "html_report": summary.html_report,
        **{k: summary.total(k) for k in _TOTALS},
        "files_failed": summary.files_failed,
        "files": [asdict(f) for f in summary.files],
        "ignored": list(summary.ignored),
        "sections": report_dict(run_report(summary))["sections"],
    }
    data["report"] = report_dict(summary.report) if summary.report is not None else None
    return data
