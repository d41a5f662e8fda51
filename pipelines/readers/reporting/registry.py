"""The sections of `dxa report`: the latest run and the registry at a glance.

Each section is one query with typed columns and a fixed order (clinical or time order,
`pipelines.readers.reporting.order`). Counts only, never patient identifiers: the lists stay in
the views (`v_treatment_candidates`, `followup_overdue(DATE)`, ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipelines.readers.reporting import order
from pipelines.readers.reporting.latest import LATEST, LATEST_AS_OF, latest_exams
from pipelines.readers.reporting.model import (
    Column,
    Kind,
    Report,
    Section,
    coded,
    counts,
    section_from_query,
)
from pipelines.readers.reporting.model import text as text_column

#: `latest`: every exam counts (categories, treatment); `latest_as_of`: only exams on or
#: before the report date count (overdue follow-up, MON-OVERDUE). Both are read from the
#: tables `pipelines.readers.reporting.latest` makes once per report.
PRELUDE = (
    "WITH last AS (SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1),"
    f" latest AS (SELECT * FROM {LATEST}), latest_as_of AS (SELECT * FROM {LATEST_AS_OF}) "
)

_CATEGORY = "coalesce(who_category, z_category, basis)"


@dataclass(frozen=True)
class SectionQuery:
    """A section's key, title, columns and the query that fills them (after PRELUDE)."""

    key: str
    title: str
    columns: tuple[Column, ...]
    sql: str
    #: the order of the rows, over the query's column names (applied around the query)
    order_by: str | None = None
    note: str | None = None
    record: bool = False


def _latest_per_ruleset(
    key: str, column: str, value: str, values: tuple[str, ...]
) -> SectionQuery:
    """Patients counted by each ruleset's verdict `value` (as `column`, codes of the
    vocabulary of that name) on their latest exam, in the verdict's clinical order within
    each ruleset."""
    return SectionQuery(
        key, f"{key} (latest exam per patient)",
        (text_column("ruleset"), coded(column, column), counts("patients")),
        f"SELECT ruleset, {value} AS {column}, count(*) FROM latest GROUP BY ALL",
        order_by=f"ruleset, {order.sort_key(column, values)}")


SECTIONS: tuple[SectionQuery, ...] = (
    SectionQuery(
        "latest_run", "latest run",
        (text_column("run_id", "run ID"), coded("status", "run_status"), text_column("ruleset"),
         Column("started_at", Kind.TIMESTAMP), counts("rows_read"), counts("rows_loaded"),
         counts("rows_quarantined"), counts("rows_duplicate"), counts("files_loaded"),
         counts("files_skipped"), counts("files_failed")),
        """SELECT run_id, status, ruleset, started_at, rows_read, rows_loaded,
                  rows_quarantined, rows_duplicate, files_loaded, files_skipped, files_failed
           FROM last""",
        record=True),
    SectionQuery(
        "latest_run_quarantine_reasons", "latest run: quarantine reasons",
        (text_column("reason"), counts("rows")),
        """SELECT reason, count(*) AS n FROM (
               SELECT unnest(string_split(errors, '; ')) AS reason FROM quarantine
               WHERE run_id = (SELECT run_id FROM last))
           GROUP BY reason""",
        order_by="n DESC, reason"),
    SectionQuery(
        "registry", "registry",
        (counts("exams"), counts("patients"),
         counts("exam_ids_held_twice",
                "exam IDs held twice (above 0: some exams are counted twice)"),
         counts("quarantined_rows"), counts("runs")),
        """SELECT (SELECT count(*) FROM exams), (SELECT count(DISTINCT patient_id) FROM exams),
                  (SELECT count(*) - count(DISTINCT exam_id) FROM exams),
                  (SELECT count(*) FROM quarantine), (SELECT count(*) FROM runs)""",
        record=True),
    _latest_per_ruleset("categories", "category", _CATEGORY, order.CATEGORIES),
    _latest_per_ruleset("treatment", "treatment", "treatment", order.TREATMENTS),
    SectionQuery(
        "followup_overdue", "follow-up overdue (patients)",
        (text_column("ruleset"), text_column("overdue"), counts("patients")),
        f"""SELECT ruleset, {order.band_case('$as_of - next_dxa_due')} AS overdue, count(*)
            FROM latest_as_of WHERE next_dxa_due < $as_of GROUP BY ALL""",
        order_by=f"ruleset, {order.sort_key('overdue', order.labels(order.OVERDUE_BANDS))}",
        note="the list: SELECT * FROM followup_overdue(DATE 'YYYY-MM-DD')"),
    SectionQuery(
        "significant_bmd_change", "significant BMD change (same scanner, beyond LSC)",
        (coded("site", "site"), coded("direction", "direction"), counts("exams"),
         counts("vs_previous", "vs previous"), counts("vs_baseline", "vs baseline")),
        # exams, not comparison rows: one exam can change against its prior exam and its
        # baseline alike; the two comparisons' counts beside it say which
        """SELECT site, direction, count(DISTINCT exam_id),
                  count(*) FILTER (WHERE comparison = 'previous'),
                  count(*) FILTER (WHERE comparison = 'baseline')
           FROM bmd_changes WHERE significant GROUP BY ALL""",
        order_by=f"{order.sort_key('site', order.SITES)}, "
                 f"{order.sort_key('direction', order.DIRECTIONS)}"),
    SectionQuery(
        "latest_run_significant_losses", "significant losses in the latest run",
        (coded("code", "flag", "flag"), coded("severity", "severity"), counts("exams")),
        """SELECT code, severity, count(DISTINCT exam_id) FROM flags
           WHERE code IN ('SIGNIFICANT_BMD_LOSS', 'LOSS_ON_TREATMENT')
             AND run_id = (SELECT run_id FROM last) GROUP BY ALL""",
        order_by=f"{order.sort_key('severity', order.SEVERITIES)}, code"),
    SectionQuery(
        "flags", "flags",
        (coded("code", "flag", "flag"), coded("severity", "severity"), counts("flags")),
        "SELECT code, severity, count(*) AS n FROM flags GROUP BY ALL",
        order_by=f"{order.sort_key('severity', order.SEVERITIES)}, n DESC, code"),
)


def registry_report(con: duckdb.DuckDBPyConnection, day: dt.date) -> Report:
    """The registry report from an open connection (read-only is enough)."""
    with latest_exams(con, day):
        sections = tuple(_run(con, q, day) for q in SECTIONS)
    return Report(kind="registry", title="Registry at a glance", as_of=day, sections=sections)


def _run(con: duckdb.DuckDBPyConnection, query: SectionQuery, day: dt.date) -> Section:
    sql = query.sql if query.order_by is None else (
        f"SELECT * FROM ({query.sql}) ORDER BY {query.order_by}")
    params = {"as_of": day} if "$as_of" in sql else {}
    return section_from_query(con, PRELUDE + sql, params, key=query.key,
                              title=query.title, columns=query.columns, note=query.note,
                              record=query.record)
