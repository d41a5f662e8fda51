"""Each patient's latest exam and its assessments, worked out once per report.

The registry report's sections and the quality page's charts count patients by their
latest exam (categories, treatment levels, overdue follow-up). Worked out inside each
query, that was a window over every exam of the registry per section and chart (about
0.6 s each at a million exams, a dozen times per nightly run); here it is one grouped
pass (`arg_max`) into temporary tables, which every section and chart then reads:

- `report_latest`: each patient's latest exam (ties on the date: the larger exam_id, as
  migration 003's `latest_assessment_as_of()`), with each ruleset's assessment of it;
- `report_latest_as_of`: the same among exams on or before the report date (overdue
  follow-up counts only exams that had happened by then).

Written out here rather than calling the macro, so that registries (and reporting copies)
not yet migrated to 003 are read too. Temporary tables live in the connection's memory:
read-only connections (the reporting copy) may create them, and they never reach the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.registry.scratch import scratch

LATEST = "report_latest"
LATEST_AS_OF = "report_latest_as_of"
#: The assessment columns the sections and charts count by (no list columns: cheaper).
ASSESSED = ("ruleset", "basis", "who_category", "z_category", "treatment", "next_dxa_due")
_DAY = "report_latest_day"


def _latest_sql(bound: str) -> str:
    """Each patient's latest exam within `bound`, joined to its assessments."""
    assessed = ", ".join(f"a.{c}" for c in ASSESSED)
    return f"""
        SELECT e.exam_id, e.sex, e.age_years, {assessed}
        FROM (SELECT l.exam_id, l.sex, l.age_years FROM (
                  SELECT patient_id,
                         arg_max({{'exam_id': exam_id, 'sex': sex, 'age_years': age_years}},
                                 (exam_date, exam_id)) AS l
                  FROM exams WHERE {bound} GROUP BY patient_id)) e
        JOIN assessments a USING (exam_id)"""


def _none_after(con: duckdb.DuckDBPyConnection, day: dt.date) -> bool:
    """Whether no exam is dated after `day` (then both tables hold the same rows)."""
    last = con.execute("SELECT max(exam_date) FROM exams").fetchall()[0][0]
    return last is None or last <= day


def _held_for(con: duckdb.DuckDBPyConnection, day: dt.date) -> bool:
    """Whether an enclosing `latest_exams` already made the tables for `day`.

    Nested calls for another day would replace the tables under the enclosing one's
    readers: refused (a bug, not a data problem).
    """
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [_DAY]
    ).fetchall()[0][0]
    if not found:
        return False
    held = con.execute(f"SELECT day FROM {_DAY}").fetchall()[0][0]
    if held != day:
        raise RuntimeError(f"the latest-exam tables are held for {held}, not for {day}")
    return True


@contextmanager
def latest_exams(con: duckdb.DuckDBPyConnection, day: dt.date) -> Iterator[None]:
    """`report_latest` and `report_latest_as_of` exist meanwhile (made once when nested).

    The nightly run wraps its report and its page in one call, so both read the same
    tables; `dxa report` and the page's own calls make them for themselves.
    """
    if _held_for(con, day):
        yield
        return
    same_exams = _none_after(con, day)
    with contextlib.ExitStack() as made:  # a failure half-way leaves no table behind
        made.enter_context(scratch(con, LATEST, _latest_sql("true")))
        if same_exams:  # the usual night: the same exams, no second pass
            made.enter_context(scratch(con, LATEST_AS_OF, f"SELECT * FROM {LATEST}",
                                       as_view=True))
        else:
            made.enter_context(scratch(con, LATEST_AS_OF, _latest_sql("exam_date <= $as_of"),
                                       {"as_of": day}))
        made.enter_context(scratch(con, _DAY, "SELECT $day AS day", {"day": day}))
        yield

