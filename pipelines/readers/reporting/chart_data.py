"""The counts behind the HTML report's charts, one query each, aggregated in DuckDB.

Every frame here is grouped counts or monthly means: no patient or exam identifier, no
single exam's value, ever leaves these queries. Scanner serials are devices, not people.
Charts that need a view or a column a registry lacks (an older registry, a reporting copy
from before an upgrade) get `None` and the page says why instead of drawing nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.readers.reporting import order
from pipelines.readers.reporting.latest import LATEST, LATEST_AS_OF, latest_exams
from pipelines.readers.reporting.measure_figures import measures_trend

#: Months overdue are counted up to this many; later ones are shown together.
MAX_MONTHS_OVERDUE = 24
#: The most frequent quarantine reasons charted by name; the rest are "other reasons".
TOP_REASONS = 8
#: Average month length in days (365.25 / 12), for whole months overdue.
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class ChartData:
    """The frames the page's charts draw; `None` where the registry cannot supply one."""

    ruleset: str | None
    demographics: pl.DataFrame
    overdue: pl.DataFrame
    scanner_monthly: pl.DataFrame | None
    #: how v_scanner_monthly sets its limits and flags drift: the view's own comment
    drift_method: str | None
    quarantine_by_run: pl.DataFrame
    serial_by_month: pl.DataFrame
    rulesets: tuple[str, ...]
    ruleset_levels: pl.DataFrame
    ruleset_crosstab: pl.DataFrame
    #: the quality measures' overall rows over 8 quarters (`measure_figures`)
    measures_trend: pl.DataFrame | None = None


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or {}).pl()


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name])
    return found.fetchall()[0][0] > 0


def view_comment(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """A view's COMMENT: where a view says what it computes, the page quotes it."""
    rows = con.execute("SELECT comment FROM duckdb_views() WHERE view_name = ?",
                       [name]).fetchall()
    return rows[0][0] if rows and rows[0][0] else None


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {row[0] for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]).fetchall()}


def primary_ruleset(con: duckdb.DuckDBPyConnection) -> str | None:
    """The registry's primary ruleset (`registry_primary_ruleset()`, migration 014), so a
    what-if run under another ruleset does not switch the charts; in a registry without
    the macro, the latest run's ruleset; else the ruleset with the most assessments."""
    has_macro = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name ="
                            " 'registry_primary_ruleset'").fetchall()[0][0]
    rows = con.execute("SELECT registry_primary_ruleset()").fetchall() if has_macro else []
    if not rows or rows[0][0] is None:
        rows = con.execute(
            "SELECT ruleset FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1").fetchall()
    if not rows:
        rows = con.execute("SELECT ruleset FROM assessments GROUP BY 1 "
                           "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def demographics(con: duckdb.DuckDBPyConnection, ruleset: str | None) -> pl.DataFrame:
    """Patients by sex, age band, WHO/Z category and treatment level (latest exam each)."""
    return _frame(con, f"""
        WITH latest AS (SELECT * FROM {LATEST})
        SELECT sex, {order.age_band_case('age_years')} AS age_band,
               coalesce(who_category, z_category, basis) AS category, treatment,
               count(*) AS patients
        FROM latest WHERE ruleset = $ruleset GROUP BY ALL ORDER BY ALL""",
        {"ruleset": ruleset})


def overdue(con: duckdb.DuckDBPyConnection, day: dt.date) -> pl.DataFrame:
    """Patients overdue for follow-up by whole months overdue, per ruleset."""
    return _frame(con, f"""
        WITH latest_as_of AS (SELECT * FROM {LATEST_AS_OF})
        SELECT ruleset,
               least(CAST(floor(($as_of - next_dxa_due) / {DAYS_PER_MONTH}) AS INTEGER),
                     {MAX_MONTHS_OVERDUE}) AS months_overdue,
               count(*) AS patients
        FROM latest_as_of WHERE next_dxa_due < $as_of GROUP BY ALL ORDER BY ALL""",
        {"as_of": day})


def scanner_monthly(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """`v_scanner_monthly` with the registry's exam-weighted mean T-score per site."""
    if not _has_view(con, "v_scanner_monthly"):
        return None
    return _frame(con, """
        SELECT scanner_serial, site, month, exams,
               round(mean_bmd_g_cm2, 4) AS mean_bmd_g_cm2, round(mean_t_score, 2) AS mean_t_score,
               round(center_bmd_g_cm2, 4) AS center_bmd_g_cm2,
               round(lower_limit_bmd_g_cm2, 4) AS lower_limit_bmd_g_cm2,
               round(upper_limit_bmd_g_cm2, 4) AS upper_limit_bmd_g_cm2, drift, drift_rule,
               round(sum(mean_t_score * exams) OVER (PARTITION BY site)
                     / sum(exams) OVER (PARTITION BY site), 2) AS registry_mean_t_score
        FROM v_scanner_monthly ORDER BY scanner_serial, site, month""")


def quarantine_by_run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Quarantined rows per run and reason (reason codes where the registry has them)."""
    reasons = ("unnest(reason_codes)" if "reason_codes" in _columns(con, "quarantine")
               else "unnest(string_split(errors, '; '))")
    return _frame(con, f"""
        WITH reasons AS (SELECT run_id, {reasons} AS reason FROM quarantine),
        top AS (SELECT reason FROM reasons GROUP BY 1 ORDER BY count(*) DESC, 1
                LIMIT {TOP_REASONS})
        SELECT r.started_at, r.run_id,
               CASE WHEN q.reason IN (SELECT reason FROM top) THEN q.reason
                    ELSE 'other reasons' END AS reason,
               count(*) AS rows
        FROM reasons q JOIN runs r USING (run_id) GROUP BY ALL ORDER BY ALL""")


def serial_by_month(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Exams flagged with a significant loss or a scanner change, by month of the exam."""
    codes = ", ".join(f"'{c}'" for c in order.SERIAL_FLAGS)
    return _frame(con, f"""
        SELECT CAST(date_trunc('month', e.exam_date) AS DATE) AS month, f.code,
               count(DISTINCT f.exam_id) AS exams
        FROM flags f JOIN exams e USING (exam_id) WHERE f.code IN ({codes})
        GROUP BY ALL ORDER BY ALL""")


def rulesets(con: duckdb.DuckDBPyConnection, primary: str | None) -> tuple[str, ...]:
    """The registry's rulesets, the primary one first, then by name."""
    names = [r[0] for r in con.execute(
        "SELECT DISTINCT ruleset FROM assessments ORDER BY 1").fetchall()]
    return tuple(sorted(names, key=lambda name: (name != primary, name)))


def ruleset_levels(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Treatment levels of each patient's latest exam under each ruleset."""
    return _frame(con, f"""
        WITH latest AS (SELECT * FROM {LATEST})
        SELECT ruleset, treatment, count(*) AS patients FROM latest GROUP BY ALL
        ORDER BY ALL""")


def ruleset_crosstab(con: duckdb.DuckDBPyConnection, first: str, second: str) -> pl.DataFrame:
    """Patients by their level under `first` and under `second` (latest exams both judged)."""
    return _frame(con, f"""
        WITH latest AS (SELECT * FROM {LATEST})
        SELECT a.treatment AS first_level, b.treatment AS second_level, count(*) AS patients
        FROM latest a JOIN latest b ON a.exam_id = b.exam_id
        WHERE a.ruleset = $first AND b.ruleset = $second GROUP BY ALL ORDER BY ALL""",
        {"first": first, "second": second})


def chart_data(con: duckdb.DuckDBPyConnection, day: dt.date) -> ChartData:
    """Every chart's frame from an open (read-only is enough) registry connection."""
    with latest_exams(con, day):
        return _chart_data(con, day)


def _chart_data(con: duckdb.DuckDBPyConnection, day: dt.date) -> ChartData:
    primary = primary_ruleset(con)
    names = rulesets(con, primary)
    comparing = len(names) >= 2
    return ChartData(
        ruleset=primary,
        demographics=demographics(con, primary),
        overdue=overdue(con, day),
        scanner_monthly=scanner_monthly(con),
        drift_method=view_comment(con, "v_scanner_monthly"),
        quarantine_by_run=quarantine_by_run(con),
        serial_by_month=serial_by_month(con),
        rulesets=names,
        ruleset_levels=ruleset_levels(con) if comparing else pl.DataFrame(),
        ruleset_crosstab=(ruleset_crosstab(con, names[0], names[1]) if comparing
                          else pl.DataFrame()),
        measures_trend=measures_trend(con, day, primary),
    )
