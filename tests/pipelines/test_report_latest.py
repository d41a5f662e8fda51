"""The report's latest-exam tables hold what migration 003's macro says, made once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from report_registry import AS_OF, build_registry

from pipelines.readers.reporting.latest import ASSESSED, LATEST, LATEST_AS_OF, latest_exams

COLUMNS = ", ".join(("exam_id", "sex", "age_years", *ASSESSED))


def macro_rows(con: duckdb.DuckDBPyConnection, day: dt.date | str) -> list[tuple]:
    return sorted(con.execute(
        f"SELECT {COLUMNS} FROM latest_assessment_as_of(CAST($day AS DATE))", {"day": day}
    ).fetchall(), key=repr)


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return sorted(con.execute(f"SELECT {COLUMNS} FROM {table}").fetchall(), key=repr)


def add_same_day_twins(con: duckdb.DuckDBPyConnection) -> None:
    """Each patient's latest exam again on its date, under a smaller and a larger exam id
    (the larger one is the latest), with the same assessments."""
    for suffix in ("-A", "-Z"):
        con.execute("""
            CREATE TEMP TABLE twins AS SELECT * FROM exams
            QUALIFY row_number() OVER (PARTITION BY patient_id
                                       ORDER BY exam_date DESC, exam_id DESC) = 1""")
        con.execute(f"INSERT INTO exams SELECT * REPLACE (exam_id || '{suffix}' AS exam_id)"
                    " FROM twins")
        con.execute(f"""INSERT INTO assessments SELECT a.* REPLACE (a.exam_id || '{suffix}'
                        AS exam_id) FROM assessments a SEMI JOIN twins USING (exam_id)""")
        con.execute("DROP TABLE twins")


def test_the_tables_equal_the_macro_on_every_day(tmp_path: Path) -> None:
    db = build_registry(tmp_path)
    with duckdb.connect(str(db)) as con:
        add_same_day_twins(con)
        first = con.execute("SELECT min(exam_date) FROM exams").fetchall()[0][0]
        days = [first, dt.date(2024, 1, 1), dt.date.fromisoformat(AS_OF), dt.date(2100, 1, 1)]
        for day in days:
            with latest_exams(con, day):
                assert table_rows(con, LATEST) == macro_rows(con, "infinity")
                assert table_rows(con, LATEST_AS_OF) == macro_rows(con, day), day
        assert any(row[0].endswith("-Z") for row in table_rows_after(con))


def table_rows_after(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    with latest_exams(con, dt.date(2100, 1, 1)):
        return table_rows(con, LATEST)


def test_exams_after_the_day_are_left_out_of_the_as_of_table_only(tmp_path: Path) -> None:
    db = build_registry(tmp_path)
    with duckdb.connect(str(db)) as con:
        day = dt.date(2024, 1, 1)
        with latest_exams(con, day):
            latest = con.execute(f"SELECT count(*) FROM {LATEST}").fetchall()[0][0]
            as_of = con.execute(f"SELECT count(*) FROM {LATEST_AS_OF}").fetchall()[0][0]
        later = con.execute("SELECT count(*) FROM exams WHERE exam_date > ?", [day]).fetchall()
        assert later[0][0] > 0
        assert as_of < latest


def test_nested_calls_share_the_tables_and_nothing_is_left_after(tmp_path: Path) -> None:
    db = build_registry(tmp_path)
    day = dt.date.fromisoformat(AS_OF)
    with duckdb.connect(str(db), read_only=True) as con:  # the reporting copy is read-only
        with latest_exams(con, day):
            con.execute(f"INSERT INTO {LATEST} SELECT * FROM {LATEST} LIMIT 1")  # a marker
            marked = con.execute(f"SELECT count(*) FROM {LATEST}").fetchall()
            with latest_exams(con, day):  # reused, not made again
                assert con.execute(f"SELECT count(*) FROM {LATEST}").fetchall() == marked
            with pytest.raises(RuntimeError, match="held for"), latest_exams(
                    con, dt.date(2024, 1, 1)):
                pass  # another day inside: refused, the enclosing tables stay
            assert con.execute(f"SELECT count(*) FROM {LATEST}").fetchall() == marked
        left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
        assert left == [(0,)]
