"""The run summary: counts per file, quarantine reasons, categories. No patient identifiers.

The same summary feeds the terminal table, the JSON output and the Prefect artifact, so the
three never disagree.
"""

from __future__ import annotations

import duckdb

from pipelines.outcome import RunSummary


def _counts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict[str, int]:
    return {str(k): int(v) for k, v in con.execute(sql, params).fetchall()}


def collect_run_counts(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    """Fill the summary's aggregate counts for this run's rows from the registry."""
    run = [summary.run_id]
    summary.quarantine_reasons = _counts(
        con,
        "SELECT reason, count(*) FROM (SELECT unnest(string_split(errors, '; ')) AS reason"
        " FROM quarantine WHERE run_id = ?) GROUP BY reason ORDER BY 2 DESC, 1",
        run,
    )
    summary.categories = _counts(
        con,
        "SELECT coalesce(who_category, z_category, basis), count(*) FROM assessments"
        " WHERE run_id = ? AND ruleset = ? GROUP BY 1 ORDER BY 2 DESC, 1",
        [summary.run_id, summary.ruleset],
    )
    summary.treatments = _counts(
        con,
        "SELECT treatment, count(*) FROM assessments WHERE run_id = ? AND ruleset = ?"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        [summary.run_id, summary.ruleset],
    )
    summary.flags = _counts(
        con,
        "SELECT code, count(*) FROM flags WHERE run_id = ? GROUP BY 1 ORDER BY 2 DESC, 1",
        run,
    )


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(summary: RunSummary) -> str:
    """Markdown for the Prefect artifact: counts and reasons only, never ids or raw rows."""
    lines = [
        f"# DXA registry run {summary.run_id}",
        "",
        f"Status **{summary.status}**, ruleset `{summary.ruleset}`.",
        f"Rows read {summary.total('rows_read')}, loaded {summary.total('rows_loaded')},"
        f" quarantined {summary.total('rows_quarantined')},"
        f" exact duplicates {summary.total('rows_duplicate')}.",
        "",
        "## Files",
        *_table(
            ["file", "format", "status", "read", "loaded", "quarantined", "duplicate", "note"],
            [
                [f.path, f.source_format or "-", f.status, f.rows_read, f.rows_loaded,
                 f.rows_quarantined, f.rows_duplicate, f.error or ""]
                for f in summary.files
            ],
        ),
    ]
    for title, counts in (
        ("Quarantine reasons", summary.quarantine_reasons),
        ("Categories", summary.categories),
        ("Treatment", summary.treatments),
        ("Flags", summary.flags),
    ):
        if counts:
            lines += ["", f"## {title}", *_table(["value", "count"], list(counts.items()))]
    if summary.message:
        lines += ["", f"Note: {summary.message}"]
    return "\n".join(lines)
