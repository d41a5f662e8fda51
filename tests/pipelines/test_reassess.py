"""Re-assessing the registry without the files: equal to a fresh run, batched, idempotent.

Why: `dxa reassess` must give exactly what `dxa run` of the original files would have
given under that ruleset (every column of `assessments` and `flags`), whatever the batch
size, and `forget` must remove that ruleset's rows and nothing else. The committed sample
is loaded with the flow's own stages (tests/sample_registry.py), no Prefect needed.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sample_registry import load_sample_registry

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.reassess import reassess_registry
from pipelines.readers.compare import compare_rulesets
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.rulesets import forget_ruleset, primary_ruleset
from pipelines.registry.store import query, registry
from schemas.errors import RegistryError

CORE, BHOF = "core-2025@3", "bhof-2022@3"


@pytest.fixture(scope="module")
def registries(tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001 - pytest's factory
    """The sample loaded under core-2025 (the base) and, fresh, under bhof-2022."""
    folder = tmp_path_factory.mktemp("reassess")
    load_sample_registry(folder / "base.duckdb", "core-2025")
    load_sample_registry(folder / "fresh.duckdb", "bhof-2022")
    return {"base": folder / "base.duckdb", "fresh": folder / "fresh.duckdb"}


def _copy(registries: dict[str, Path], tmp_path: Path) -> Path:
    db = tmp_path / "work.duckdb"
    shutil.copyfile(registries["base"], db)
    return db


def _reassess(db: Path, ruleset: str = "bhof-2022", **options: object):  # noqa: ANN202
    chosen = resolve_ruleset(ruleset)
    with registry(db) as con:
        return reassess_registry(writer_for(con),
                                 "reassess-1", chosen, decider_for(chosen), **options)


def _rows(db: Path, table: str, label: str | None) -> pl.DataFrame:
    where = "ruleset IS NULL" if label is None else f"ruleset = '{label}'"
    with registry(db, read_only=True) as con:
        return query(con, f"SELECT * EXCLUDE (run_id) FROM {table} WHERE {where} ORDER BY ALL")


@pytest.mark.parametrize("batch_size", [1_000_000, 997])
def test_reassess_equals_a_fresh_run(registries: dict[str, Path], tmp_path: Path,
                                     batch_size: int) -> None:
    db = _copy(registries, tmp_path)
    counts = _reassess(db, batch_size=batch_size)
    fresh_assessments = _rows(registries["fresh"], "assessments", BHOF)
    assert counts.assessments_added == fresh_assessments.height > 997
    assert counts.batches == -(-fresh_assessments.height // batch_size)
    assert_frame_equal(_rows(db, "assessments", BHOF), fresh_assessments)
    assert_frame_equal(_rows(db, "flags", BHOF), _rows(registries["fresh"], "flags", BHOF))
    # the base ruleset's rows and the serial verdicts are untouched
    for table in ("assessments", "flags"):
        assert_frame_equal(_rows(db, table, CORE), _rows(registries["base"], table, CORE))
    assert_frame_equal(_rows(db, "flags", None), _rows(registries["base"], "flags", None))


def test_reassess_again_changes_nothing(registries: dict[str, Path], tmp_path: Path) -> None:
    db = _copy(registries, tmp_path)
    first = _reassess(db, batch_size=5000)
    before = _rows(db, "assessments", BHOF)
    again = _reassess(db, batch_size=5000)
    assert (again.assessments_added, again.already_assessed) == (0, first.assessments_added)
    assert_frame_equal(_rows(db, "assessments", BHOF), before)
    with registry(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM rulesets WHERE ruleset = ?",
                           [BHOF]).fetchall()[0] == (1,)


def test_latest_only_judges_one_exam_per_patient(registries: dict[str, Path],
                                                 tmp_path: Path) -> None:
    db = _copy(registries, tmp_path)
    counts = _reassess(db, latest_only=True, batch_size=4000)
    with registry(db, read_only=True) as con:
        patients = con.execute("SELECT count(DISTINCT patient_id) FROM exams").fetchall()[0][0]
        latest = con.execute(
            "SELECT count(*) FROM assessments a JOIN v_latest_assessment l USING (exam_id)"
            " WHERE a.ruleset = ?", [BHOF]).fetchall()[0][0]
    assert counts.assessments_added == patients == latest


def test_forget_removes_exactly_that_rulesets_rows(registries: dict[str, Path],
                                                   tmp_path: Path) -> None:
    db = _copy(registries, tmp_path)
    _reassess(db, batch_size=20_000)
    added = {t: _rows(db, t, BHOF).height for t in ("assessments", "flags")}
    with registry(db) as con:
        exams = con.execute("SELECT count(*) FROM exams").fetchall()[0]
        assert forget_ruleset(con, BHOF) == (added["assessments"], added["flags"])
        assert con.execute("SELECT count(*) FROM exams").fetchall()[0] == exams
        assert con.execute("SELECT count(*) FROM rulesets WHERE ruleset = ?",
                           [BHOF]).fetchall()[0] == (0,)
        assert con.execute("SELECT count(*) FROM rules WHERE ruleset = ?",
                           [BHOF]).fetchall()[0] == (0,)
        with pytest.raises(RegistryError, match="primary ruleset"):
            forget_ruleset(con, primary_ruleset(con) or "")
    for table in ("assessments", "flags"):
        assert _rows(db, table, BHOF).height == 0
        assert_frame_equal(_rows(db, table, CORE), _rows(registries["base"], table, CORE))
    assert_frame_equal(_rows(db, "flags", None), _rows(registries["base"], "flags", None))


def _brute_force(con: duckdb.DuckDBPyConnection, col: str) -> tuple[Counter, Counter]:
    """Cells and (cell, differing rule id) counted row by row from the plain tables."""
    exams = query(con, "SELECT exam_id, patient_id, exam_date FROM exams")
    latest = exams.sort(["exam_date", "exam_id"]).group_by("patient_id").last()
    both = {}
    for label in (CORE, BHOF):
        a = query(con, f"SELECT exam_id, treatment, who_category, reasons FROM assessments"
                       f" WHERE ruleset = '{label}'")
        both[label] = {r["exam_id"]: r for r in a.iter_rows(named=True)}
    cells, reasons = Counter(), Counter()
    for exam_id in latest["exam_id"]:
        if exam_id not in both[CORE] or exam_id not in both[BHOF]:
            continue
        a, b = both[CORE][exam_id], both[BHOF][exam_id]
        cell = (a[col] or "none", b[col] or "none")
        cells[cell] += 1
        for rule in set(a["reasons"] or []) ^ set(b["reasons"] or []):
            reasons[(cell, rule)] += 1
    return cells, reasons


def test_compare_matrix_equals_a_brute_force_count(registries: dict[str, Path],
                                                   tmp_path: Path) -> None:
    db = _copy(registries, tmp_path)
    _reassess(db, batch_size=50_000)
    with registry(db, read_only=True) as con:
        comparison = compare_rulesets(con, "core-2025", "bhof-2022")
        expected = {"treatment": _brute_force(con, "treatment"),
                    "who_category": _brute_force(con, "who_category")}
        assert comparison.patients == con.execute(
            "SELECT count(DISTINCT patient_id) FROM exams").fetchall()[0][0]
        assert con.execute("SELECT count(*) FROM v_ruleset_comparison").fetchall()[0][0] == (
            comparison.patients)
    for name, (cells, reasons) in expected.items():
        got = comparison.cells[name]
        assert {(r["from"], r["to"]): r["patients"] for r in got.iter_rows(named=True)} == cells
        for row in got.iter_rows(named=True):
            top = [part.rsplit(" (", 1) for part in row["top_reasons"].split(", ") if part]
            for rule, n in top:
                assert reasons[((row["from"], row["to"]), rule)] == int(n.rstrip(")"))
            counted = sorted((n for (cell, _), n in reasons.items()
                              if cell == (row["from"], row["to"])), reverse=True)
            assert [int(n.rstrip(")")) for _, n in top] == counted[:3]
    assert comparison.changed("treatment") > 0


def test_views_count_each_patient_once(registries: dict[str, Path], tmp_path: Path) -> None:
    db = _copy(registries, tmp_path)
    _reassess(db, batch_size=50_000)
    with registry(db, read_only=True) as con:
        assert primary_ruleset(con) == CORE   # the first run's, kept by the what-if
        patients = con.execute("SELECT count(DISTINCT patient_id) FROM exams").fetchall()[0][0]
        assert con.execute("SELECT count(*), count(DISTINCT patient_id), min(ruleset),"
                           " max(ruleset) FROM v_latest_assessment").fetchall()[0] == (
            patients, patients, CORE, CORE)
        for view in ("v_treatment_candidates", "v_followup_overdue", "v_vfa_candidates",
                     "v_secondary_cause_workup", "v_significant_loss"):
            n, distinct, rulesets = con.execute(
                f"SELECT count(*), count(DISTINCT patient_id), count(DISTINCT ruleset)"
                f" FROM {view}").fetchall()[0]
            assert n == distinct and rulesets <= 1, view
        other = con.execute("SELECT count(*), count(DISTINCT patient_id), min(ruleset)"
                            " FROM treatment_candidates_for(?)", [BHOF]).fetchall()[0]
        assert other[0] == other[1] > 0 and other[2] == BHOF
