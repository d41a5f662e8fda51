"""Quarantine reasons as data: one catalog words them, every stage emits codes, the
registry stores the codes beside the text and `v_data_quality` counts the codes."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl
from exam_rows import REPO, make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.store import registry
from schemas.reasons import REASONS, message, message_expr, quarantine_rows, reason_expr
from sources.detect import discover
from transforms.precision import load_precision

PACKAGES = ("schemas", "transforms", "sources", "pipelines")


def load_file(con: duckdb.DuckDBPyConnection, path: Path, run: str = "run-1") -> None:
    inputs, _ = discover([path])
    chosen = resolve_ruleset("core-2025")
    load_input(writer_for(con), run, chosen.label, prepare_input(inputs[0]), decider_for(chosen),
               load_precision())


def test_every_wording_names_its_subject_and_fills_from_values() -> None:
    for reason in REASONS.values():
        assert reason.wording.startswith(("{column}: ", "{where}: ")), reason.code
        assert re.fullmatch(r"[A-Z][A-Z_]+", reason.code)
        values = {f: f"<{f}>" for f in reason.fields} | {"column": "c"}
        expected = message(reason.code, **values)
        got = pl.select(message_expr(reason.code, **values)).item()
        assert got == expected


def test_no_other_module_words_a_reason() -> None:
    """The literal text of each wording appears in schemas/reasons.py only."""
    literals = {
        part.strip()
        for reason in REASONS.values()
        for part in re.split(r"\{[a-z_]+\}", reason.wording)
        if len(part.strip(" :'()")) > 12
    }
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if path == REPO / "schemas" / "reasons.py":
                continue
            text = path.read_text(encoding="utf-8")
            worded = [lit for lit in literals if lit in text]
            assert not worded, (path, worded)


def test_reasons_of_a_row_are_joined_once_in_message_order() -> None:
    reasons = pl.select(
        pl.lit(7, dtype=pl.Int64).alias("row_number"),
        pl.concat_list(
            reason_expr("NOT_A_NUMBER", "spine_t"),
            reason_expr("NOT_ALLOWED", "sex"),
            reason_expr("NOT_A_NUMBER", "spine_t"),
        ).alias("r"),
    ).explode("r").unnest("r")
    rows = pl.DataFrame({"row_number": [7], "exam_id": ["E"], "raw": ["{}"]})
    out = quarantine_rows(reasons, rows)
    assert out.row(0, named=True) == {
        "row_number": 7, "exam_id": "E",
        "errors": "sex: is not one of the allowed values; spine_t: is not a number",
        "reason_codes": ["NOT_ALLOWED", "NOT_A_NUMBER"], "raw": "{}",
    }


def test_registry_stores_codes_and_the_view_counts_them(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [
        make_row(exam_id="E1"),
        make_row(exam_id="E2", femoral_neck_t="abc", sex="X"),
        make_row(exam_id="E3", femoral_neck_t="9", frax_hip_pct="x"),
        make_row(exam_id="E4", exam_date="2024-02-30"),
    ])
    with registry(tmp_path / "r.duckdb") as con:
        load_file(con, path)
        stored = con.execute(
            "SELECT row_number, errors, reason_codes FROM quarantine ORDER BY row_number"
        ).fetchall()
        counts = dict(con.execute(
            "SELECT item, n FROM v_data_quality WHERE kind = 'quarantine'").fetchall())
    assert stored == [
        (2, "femoral_neck_t: is not a number; sex: is not one of the allowed values",
         ["NOT_A_NUMBER", "NOT_ALLOWED"]),
        (3, "femoral_neck_t: is above its plausible range (must be <= 8.0); "
            "frax_hip_pct: is not a number", ["ABOVE_RANGE", "NOT_A_NUMBER"]),
        # no exam date, so no age from the birth date: said once, by the date's reason
        (4, "exam_date: is not a real date in the form YYYY-MM-DD", ["NOT_A_DATE"]),
    ]
    assert counts == {"NOT_A_NUMBER": 2, "NOT_ALLOWED": 1, "ABOVE_RANGE": 1, "NOT_A_DATE": 1}


def test_registry_conflict_has_its_code(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", [make_row(exam_id="E1")])
    second = write_csv(tmp_path / "b.csv", [make_row(exam_id="E1", femoral_neck_t="-2.6")])
    with registry(tmp_path / "r.duckdb") as con:
        load_file(con, first)
        load_file(con, second, "run-2")
        assert con.execute("SELECT errors, reason_codes FROM quarantine").fetchall() == [
            ("exam_id: already in the registry from another input, with other content",
             ["REGISTRY_ID_CONFLICT"])]


def test_rows_quarantined_before_codes_are_counted_by_text(tmp_path: Path) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        con.execute("INSERT INTO quarantine (run_id, row_number, errors)"
                    " VALUES ('old', 1, 'a: x; b: y')")
        assert sorted(con.execute("SELECT item, n FROM v_data_quality").fetchall()) == [
            ("a: x", 1), ("b: y", 1)]
