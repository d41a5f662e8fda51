"""The registry side of a re-assessment: which exams a ruleset has yet to judge.

The pending exams are numbered once in a temporary table, then read back in batches by
number, so that a 10M-exam registry never sits in memory whole and every batch is read
by an index range, not by an OFFSET that rescans.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.registry.reads import EXAM_COLUMNS
from pipelines.registry.store import query

PENDING = "reassess_pending"

#: Each patient's latest exam (the `--latest-only` scope).
_LATEST = ("(SELECT exam_id FROM exams QUALIFY row_number() OVER (PARTITION BY patient_id"
           " ORDER BY exam_date DESC, exam_id DESC) = 1)")


def number_pending(con: duckdb.DuckDBPyConnection, label: str,
                   latest_only: bool) -> tuple[int, int]:
    """Number the exams `label` has not judged; (pending, already assessed in scope)."""
    scope = _LATEST if latest_only else "(SELECT exam_id FROM exams)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PENDING} AS"
        " SELECT exam_id, row_number() OVER (ORDER BY exam_id) AS n"
        f" FROM {scope} e"
        " WHERE exam_id NOT IN (SELECT exam_id FROM assessments WHERE ruleset = ?)",
        [label],
    )
    pending = con.execute(f"SELECT count(*) FROM {PENDING}").fetchall()[0][0]
    assessed = con.execute(
        f"SELECT count(*) FROM {scope} e JOIN assessments a USING (exam_id)"
        " WHERE a.ruleset = ?", [label]).fetchall()[0][0]
    return pending, assessed


def pending_batch(con: duckdb.DuckDBPyConnection, first: int, last: int) -> pl.DataFrame:
    """The pending exams numbered `first`..`last`, in that order."""
    columns = ", ".join(f"e.{c}" for c in EXAM_COLUMNS)
    return query(
        con,
        f"SELECT {columns} FROM exams e JOIN {PENDING} p USING (exam_id)"
        " WHERE p.n BETWEEN ? AND ? ORDER BY p.n",
        [first, last],
    )


def drop_pending(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {PENDING}")
