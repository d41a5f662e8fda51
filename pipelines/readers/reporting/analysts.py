"""The page's part for analysts: the codes behind the labels, the SQL behind the counts.

A clinician-manager reads labels and dates in words; an analyst who goes on in SQL needs
the codes the registry stores and the queries that list the patients behind a count.
Both sit in one collapsed `<details class="analysts">` at the end of the page, so the page
above it reads without them. The queries run on the reporting copy as written (its
macros take the report date; the ruleset is the one the charts show).
"""

from __future__ import annotations

import datetime as dt
import html

from pipelines.readers.reporting.labels import HEADINGS, LABELS
from pipelines.readers.reporting.model import Report


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def list_queries(day: dt.date, ruleset: str | None) -> list[tuple[str, str]]:
    """(what it lists, the SQL) for each list behind the page's counts."""
    as_of = f"DATE '{day.isoformat()}'"
    chosen = f" WHERE ruleset = {_sql_text(ruleset)}" if ruleset else ""
    return [
        ("Each patient's latest exam and its assessment (the categories and levels)",
         f"SELECT * FROM latest_assessment_as_of({as_of}){chosen}"),
        ("Treatment recommended or to consider, not on treatment",
         f"SELECT * FROM treatment_candidates_as_of({as_of}){chosen}"),
        ("Overdue follow-up",
         f"SELECT * FROM followup_overdue({as_of}){chosen} ORDER BY days_overdue DESC"),
        ("Significant bone loss on the latest exam",
         f"SELECT * FROM significant_loss_as_of({as_of}){chosen}"),
        ("Quarantined rows, with their file and reasons",
         f"SELECT * FROM quarantine_as_of({as_of}) ORDER BY path, row_number"),
        ("Months flagged as scanner drift",
         "SELECT * FROM v_scanner_monthly WHERE drift ORDER BY month"),
    ]


def _queries_html(report: Report, ruleset: str | None) -> str:
    items = "".join(f"<li>{html.escape(what)}:<br><code>{html.escape(sql)}</code></li>"
                    for what, sql in list_queries(report.as_of, ruleset))
    notes = "".join(f"<li>{html.escape(s.title)}: <code>{html.escape(s.note)}</code></li>"
                    for s in report.sections if s.note)
    return (f"<h3>Lists behind the counts</h3><p>On the reporting copy (read-only), as of "
            f"{report.as_of.isoformat()}:</p><ul>{items}{notes}</ul>")


def _codes_html() -> str:
    tables = "".join(
        f"<h4>{html.escape(HEADINGS[vocabulary])}</h4><table><thead><tr><th>code</th>"
        "<th>label on this page</th></tr></thead><tbody>"
        + "".join(f"<tr><td><code>{html.escape(code)}</code></td>"
                  f"<td>{html.escape(words)}</td></tr>" for code, words in labels.items())
        + "</tbody></table>"
        for vocabulary, labels in LABELS.items())
    return f"<h3>Codes and their labels</h3>{tables}"


def analysts_html(report: Report, *, ruleset: str | None, drift_method: str | None) -> str:
    """The collapsed analysts' part: list queries, the drift method, every code."""
    method = (f"<h3>How scanner drift is judged</h3><p>{html.escape(drift_method)}</p>"
              if drift_method else "")
    return (f'<details class="analysts" id="analysts"><summary>For analysts: the codes '
            f"behind the labels and the SQL behind the counts</summary>"
            f"{_queries_html(report, ruleset)}{method}{_codes_html()}</details>")
