"""`dxa report`: the latest run and the registry at a glance, as a table, CSV or JSON.

Opened read-only, so it works on the reporting copy while the nightly run writes the
registry. Every section is (section, key, value) rows, which makes CSV and JSON trivial
for machines, a set of small tables for people, and markdown for the flow's Prefect artifact
(report_markdown). Counts only, never patient identifiers: the lists stay in the views.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from pipelines.publish import reporting_copy_path
from pipelines.store import RegistryLocked, connect
from schemas.errors import RegistryError


class ReportError(RegistryError):
    """The file is not a registry, or cannot be read (missing tables, a writer's lock...)."""


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
        SELECT 'exam ids held twice (must be 0)',
               CAST(count(*) - count(DISTINCT exam_id) AS VARCHAR) FROM exams UNION ALL
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
               CAST(count(*) AS VARCHAR) FROM latest_as_of
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


def _latest_exam_cte(name: str, bound: str) -> str:
    """Each patient's latest exam in `exams` (ties: larger exam_id) within `bound`, with each
    ruleset's assessment of it: the same rule as migration 003's latest_assessment_as_of().

    Written out here rather than calling the macro so that the report also reads registries
    (and reporting copies) that have not been migrated to 003 yet.
    """
    return f"""
    {name} AS (
        SELECT a.* FROM (
            SELECT exam_id FROM exams WHERE {bound}
            QUALIFY row_number() OVER (PARTITION BY patient_id
                                       ORDER BY exam_date DESC, exam_id DESC) = 1
        ) e JOIN assessments a USING (exam_id))"""


#: `latest`: every exam counts (categories, treatment); `latest_as_of`: only exams on or
#: before the report date count (overdue follow-up, MON-OVERDUE).
_PRELUDE = (
    "WITH last AS (SELECT * FROM runs ORDER BY started_at DESC LIMIT 1),"
    + _latest_exam_cte("latest", "true") + ","
    + _latest_exam_cte("latest_as_of", "exam_date <= $as_of")
)

#: Seconds `dxa report` waits for a process holding the registry's write lock.
LOCK_TIMEOUT_S = 10.0


def report_date(as_of: str | None) -> dt.date:
    """The --as-of date (default today), or a ReportError the CLI can print."""
    try:
        return dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise ReportError(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}") from None


def _open_read_only(db: Path, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a ReportError naming why not (a writer's lock, ...)."""
    try:
        return connect(db, read_only=True, lock_timeout_s=lock_timeout_s)
    except RegistryLocked as exc:
        hint = "" if db.stem.endswith(".report") else (
            f"; read the reporting copy {reporting_copy_path(db)} instead, or retry when the"
            " run has finished")
        raise ReportError(f"cannot read {db}: {exc}{hint}") from None
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {db}: {str(exc).splitlines()[0]}") from None


def collect_report(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[tuple[str, str, str]]:
    """(section, key, value) rows from an open connection (read-only is enough).

    Separate from opening the file so the flow can build the same rows on its own
    connection for the Prefect artifact.
    """
    rows: list[tuple[str, str, str]] = [("report", "as_of", day.isoformat())]
    for section, sql in SECTIONS.items():
        for key, value in con.execute(_PRELUDE + sql, {"as_of": day}).fetchall():
            rows.append((section, str(key), str(value)))
    return rows


def build_report(
    db: Path, as_of: str | None, *, lock_timeout_s: float | None = None
) -> list[tuple[str, str, str]]:
    """(section, key, value) rows for the report of the registry file `db`."""
    day = report_date(as_of)
    con = _open_read_only(db, LOCK_TIMEOUT_S if lock_timeout_s is None else lock_timeout_s)
    try:
        return collect_report(con, day)
    except duckdb.CatalogException:
        raise ReportError(f"{db} is not a DXA registry (tables missing)") from None
    finally:
        con.close()


def _md_cell(text: str) -> str:
    """A markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(text.split()).replace("|", "\\|")


def report_markdown(rows: Sequence[tuple[str, str, str]]) -> str:
    """The `dxa report` sections as markdown, e.g. for the flow's Prefect artifact.

    Takes the rows of build_report()/collect_report(), so the artifact and the command can
    never disagree. Those rows hold counts and codes only, never patient or exam ids.
    """
    sections = _by_section(rows)
    as_of = dict(sections.pop("report", [])).get("as_of", "")
    lines = [f"## Registry at a glance (as of {as_of})", "",
             "Counts only; the report views in the registry hold the lists."]
    for section, items in sections.items():
        lines += ["", f"### {_md_cell(section)}", "", "| item | value |", "|---|---:|"]
        lines += [f"| {_md_cell(key)} | {_md_cell(value)} |" for key, value in items]
    return "\n".join(lines) + "\n"


def _by_section(rows: Sequence[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Rows grouped by section, sections and items in report order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for section, key, value in rows:
        sections.setdefault(section, []).append((key, value))
    return sections


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
        for section, items in _by_section(rows).items():
            table = Table(title=section, title_justify="left", show_header=False)
            table.add_column("")
            table.add_column("", justify="right")
            for key, value in items:
                table.add_row(key, value)
            console.print(table)
    else:
        raise ValueError(f"unknown report format {fmt!r}: use table, csv or json")
