"""`dxa report`: the latest run and the registry at a glance, as a table, CSV or JSON.

Opened read-only, so it works on the reporting copy while the nightly run writes the
registry. Every section is (section, key, value) rows, which makes CSV and JSON trivial
for machines and a set of small tables for people. No patient identifiers are shown except
in the overdue list's count (ids stay in the database views).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from pipelines.store import connect


class ReportError(Exception):
    """The file is not a registry, or cannot be read."""


SECTIONS: dict[str, str] = {
    "latest run": """
        SELECT 'run_id', run_id FROM last UNION ALL
        SELECT 'status', status FROM last UNION ALL
        SELECT 'ruleset', ruleset FROM last UNION ALL
        SELECT 'started_at', CAST(started_at AS VARCHAR) FROM last UNION ALL
        SELECT 'rows_read', CAST(rows_read AS VARCHAR) FROM last UNION ALL
        SELECT 'rows_loaded', CAST(rows_loaded AS VARCHAR) FROM last UNION ALL
        SELECT 'rows_quarantined', CAST(rows_quarantined AS VARCHAR) FROM last UNION ALL
        SELECT 'rows_duplicate', CAST(rows_duplicate AS VARCHAR) FROM last UNION ALL
        SELECT 'files_loaded', CAST(files_loaded AS VARCHAR) FROM last UNION ALL
        SELECT 'files_skipped', CAST(files_skipped AS VARCHAR) FROM last UNION ALL
        SELECT 'files_failed', CAST(files_failed AS VARCHAR) FROM last""",
    "latest run quarantine reasons": """
        SELECT reason, CAST(count(*) AS VARCHAR) FROM (
            SELECT unnest(string_split(errors, '; ')) AS reason FROM quarantine
            WHERE run_id = (SELECT run_id FROM last)) GROUP BY reason ORDER BY count(*) DESC""",
    "registry": """
        SELECT 'exams', CAST(count(*) AS VARCHAR) FROM exams UNION ALL
        SELECT 'patients', CAST(count(DISTINCT patient_id) AS VARCHAR) FROM exams UNION ALL
        SELECT 'quarantined rows', CAST(count(*) AS VARCHAR) FROM quarantine UNION ALL
        SELECT 'runs', CAST(count(*) AS VARCHAR) FROM runs""",
    "categories (latest exam per patient)": """
        SELECT ruleset || ': ' || coalesce(who_category, z_category, basis),
               CAST(count(*) AS VARCHAR) FROM latest GROUP BY ALL ORDER BY 1""",
    "treatment (latest exam per patient)": """
        SELECT ruleset || ': ' || treatment, CAST(count(*) AS VARCHAR)
        FROM latest GROUP BY ALL ORDER BY 1""",
    "follow-up overdue (patients; list: SELECT * FROM followup_overdue(DATE))": """
        SELECT ruleset || ': ' || CASE
                 WHEN $as_of - next_dxa_due <= 182 THEN 'up to 6 months'
                 WHEN $as_of - next_dxa_due <= 365 THEN '6 to 12 months'
                 ELSE 'over 12 months' END,
               CAST(count(*) AS VARCHAR) FROM latest
        WHERE next_dxa_due < $as_of GROUP BY ALL ORDER BY 1""",
    "significant BMD change (same scanner, beyond LSC)": """
        SELECT site || ': ' || direction, CAST(count(*) AS VARCHAR) FROM bmd_changes
        WHERE significant GROUP BY ALL ORDER BY 1""",
    "significant losses in the latest run": """
        SELECT f.code || ' (' || f.severity || ')', CAST(count(DISTINCT f.exam_id) AS VARCHAR)
        FROM flags f WHERE f.code IN ('SIGNIFICANT_BMD_LOSS', 'LOSS_ON_TREATMENT')
          AND f.run_id = (SELECT run_id FROM last) GROUP BY ALL ORDER BY 1""",
    "flags": """
        SELECT code || ' (' || severity || ')', CAST(count(*) AS VARCHAR) FROM flags
        GROUP BY ALL ORDER BY count(*) DESC""",
}

_PRELUDE = """
    WITH last AS (SELECT * FROM runs ORDER BY started_at DESC LIMIT 1),
    latest AS (
        SELECT a.* FROM assessments a JOIN exams e USING (exam_id)
        QUALIFY row_number() OVER (PARTITION BY e.patient_id, a.ruleset
                                   ORDER BY e.exam_date DESC, e.exam_id DESC) = 1)
"""


def build_report(db: Path, as_of: str | None) -> list[tuple[str, str, str]]:
    """(section, key, value) rows for the report."""
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise ReportError(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}") from None
    try:
        con = connect(db, read_only=True, lock_timeout_s=10)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {db}: {str(exc).splitlines()[0]}") from None
    rows: list[tuple[str, str, str]] = [("report", "as_of", day.isoformat())]
    try:
        for section, sql in SECTIONS.items():
            params = {"as_of": day} if "$as_of" in sql else None
            for key, value in con.execute(_PRELUDE + sql, params).fetchall():
                rows.append((section, str(key), str(value)))
    except duckdb.CatalogException:
        raise ReportError(f"{db} is not a DXA registry (tables missing)") from None
    finally:
        con.close()
    return rows


def render_report(rows: list[tuple[str, str, str]], fmt: str, console: Console) -> None:
    """Print the report as `table` (people), `csv` or `json` (machines)."""
    if fmt == "json":
        grouped: dict[str, dict[str, str]] = {}
        for section, key, value in rows:
            grouped.setdefault(section, {})[key] = value
        print(json.dumps(grouped, indent=2))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["section", "key", "value"])
        writer.writerows(rows)
        print(buffer.getvalue(), end="")
    elif fmt == "table":
        sections: dict[str, list[tuple[str, str]]] = {}
        for section, key, value in rows:
            sections.setdefault(section, []).append((key, value))
        for section, items in sections.items():
            table = Table(title=section, title_justify="left", show_header=False)
            table.add_column("")
            table.add_column("", justify="right")
            for key, value in items:
                table.add_row(key, value)
            console.print(table)
    else:
        raise ValueError(f"unknown report format {fmt!r}: use table, csv or json")
