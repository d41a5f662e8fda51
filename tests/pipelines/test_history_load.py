"""The patient, not the exam, through the loader (clinical-rules section 7a): a back-fill
judges the registry's later exams again, in whole and staged loads; a re-assessment
reads the same history; nothing is judged twice. Checked in DuckDB.

Plain load functions (no Prefect); `dxa run` goes through the same loader.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from exam_rows import make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.ingest.reassess import reassess_registry
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.outcome import FileOutcome
from pipelines.registry.store import registry
from sources.base import ReadOptions
from sources.detect import Input
from transforms.precision import load_precision

DECISIONS = ("SELECT exam_id, who_category, diagnostic_t_score, next_dxa_due::VARCHAR,"
             " history_used FROM assessments WHERE ruleset = ? ORDER BY exam_id")
TREATMENTS = "SELECT exam_id, treatment FROM assessments WHERE ruleset = ? ORDER BY exam_id"


def exam(exam_id: str, date: str, **extra: object) -> dict[str, str]:
    """An exam of patient P-7, osteopenic and low-risk unless told otherwise."""
    return make_row(exam_id=exam_id, patient_id="P-7", exam_date=date, birth_date="1956-06-15",
                    **extra)


def forearm(exam_id: str, date: str, t: float, **extra: object) -> dict[str, str]:
    """A forearm-only exam (one-third radius) of P-7."""
    return exam(exam_id, date, femoral_neck_bmd=None, femoral_neck_t=None,
                femoral_neck_z=None, hip_side=None, radius_33_bmd=0.6, radius_33_t=t,
                radius_33_z=0.0, **extra)


def load(con: duckdb.DuckDBPyConnection, folder: Path, name: str, rows: list[dict],
         batch_bytes: int | None, ruleset: str = "core-2025") -> FileOutcome:
    """Load one CSV as a night's run would; `batch_bytes` forces the staged path."""
    path = write_csv(folder / f"{name}.csv", rows)
    options = ReadOptions() if batch_bytes is None else ReadOptions(batch_bytes=batch_bytes)
    prepared = prepare_input(Input(path, "canonical_csv"), options)
    chosen = resolve_ruleset(ruleset)
    return load_input(writer_for(con), f"run-{name}", chosen.label, prepared,
                      decider_for(chosen), load_precision())


def label(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT DISTINCT ruleset FROM assessments").fetchone()[0]


@pytest.mark.parametrize("batch_bytes", [None, 100], ids=["whole", "staged"])
def test_a_back_fill_judges_the_later_exams_again(tmp_path: Path,
                                                  batch_bytes: int | None) -> None:
    """Night 1: a femoral neck T -2.4 (osteopenia) and a later forearm-only exam. Night 2
    brings the earlier osteoporosis with a vertebral fracture and a same-day forearm row:
    both night-1 exams are judged again with that history, once each."""
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "night1", [
            exam("E2", "2022-03-01", femoral_neck_t=-2.4),
            forearm("E4", "2023-03-01", -1.1, vertebral_fracture="no"),
        ], batch_bytes)
        ruleset = label(con)
        assert con.execute(DECISIONS, [ruleset]).fetchall() == [
            ("E2", "osteopenia", -2.4, "2024-03-01", []),
            ("E4", "osteopenia", -1.1, "2024-03-01", ["HX-CENTRAL-SITE"]),
        ]
        outcome = load(con, tmp_path, "night2", [
            exam("E1", "2020-03-01", femoral_neck_t=-2.6, vertebral_fracture="yes"),
            forearm("E3", "2022-03-01", -1.8, vertebral_fracture=None),
        ], batch_bytes)
        assert outcome.assessments_added == 2  # the new exams; E2 and E4 are replaced
        assert outcome.rejudged == 2
        assert any("2 exams judged before were judged again" in n for n in outcome.notes)
        rows = con.execute(DECISIONS, [ruleset]).fetchall()
        assert rows == [
            ("E1", "osteoporosis", -2.6, "2021-03-01", []),
            # one visit: the hip and the same-day radius row judged together
            ("E2", "osteopenia", -2.4, "2023-03-01",
             ["HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS"]),
            ("E3", "osteopenia", -2.4, "2023-03-01",
             ["HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS"]),
            # forearm-only: its own T, the central visit's lower T carried, its date capped
            ("E4", "osteopenia", -1.1, "2023-03-01",
             ["HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS", "HX-CENTRAL-SITE"]),
        ]
        # every exam judged once; the replaced decisions' flags went with them
        assert con.execute("SELECT count(*), count(DISTINCT exam_id) FROM assessments"
                           ).fetchone() == (4, 4)
        conflicts = con.execute(
            "SELECT exam_id, run_id FROM flags WHERE code = 'FRACTURE_HISTORY_CONFLICT'"
            " ORDER BY exam_id").fetchall()
        # E2 says no (as E4 does) after E1's yes; E3 is E2's visit
        assert conflicts == [("E2", "run-night2"), ("E3", "run-night2"), ("E4", "run-night2")]
        assert con.execute("SELECT count(*) FROM flags WHERE exam_id = 'E4' AND"
                           " run_id = 'run-night1' AND ruleset IS NOT NULL").fetchone() == (0,)


def test_a_staged_file_judges_its_own_back_fills_like_a_whole_one(tmp_path: Path) -> None:
    """One file, newest exam first, read in one-row batches: the result is the one of
    reading it whole (each batch's later exams are judged again in the staging tables)."""
    rows = [exam("E3", "2024-03-01", femoral_neck_t=-2.0),
            exam("E2", "2023-03-01", femoral_neck_t=-2.2, prior_fragility_fracture="yes",
                 prior_fracture_sites="humerus"),
            exam("E1", "2022-03-01", femoral_neck_t=-2.7)]
    results = []
    for batch_bytes in (None, 100):
        folder = tmp_path / str(batch_bytes)
        folder.mkdir()
        with registry(folder / "r.duckdb") as con:
            load(con, folder, "file", rows, batch_bytes)
            results.append(con.execute(DECISIONS + ", reasons", [label(con)]).fetchall())
            assert con.execute("SELECT count(*) FROM assessments").fetchone() == (3,)
    assert results[0] == results[1]
    assert results[0][2][4] == ["HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS"]


def test_reassess_reads_the_patients_history(tmp_path: Path) -> None:
    """A re-assessment under another ruleset judges each exam with its patient's other
    exams, as the load did."""
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "night1", [
            exam("E1", "2020-03-01", femoral_neck_t=-2.6),
            exam("E2", "2022-03-01", femoral_neck_t=-2.0),
        ], None)
        chosen = resolve_ruleset("bhof-2022")
        reassess_registry(writer_for(con), "run-re", chosen, decider_for(chosen))
        assert con.execute(
            "SELECT exam_id, history_used FROM assessments WHERE ruleset = ?"
            " ORDER BY exam_id", [chosen.label]).fetchall() == [
            ("E1", []), ("E2", ["HX-OSTEOPOROSIS-PERSISTS"])]


def test_the_risk_assessment_list_puts_the_highest_caroc_category_first(tmp_path: Path
                                                                         ) -> None:
    """Four patients waiting for FRAX, one per CAROC category, and one whose FRAX is
    known (not on the list): `dxa export risk-assessment` orders them high, moderate,
    low, not computed."""
    from pipelines.readers.worklists import export_worklist

    def patient(pid: str, age: int, neck_t: float, **extra: object) -> dict[str, str]:
        fields = {"frax_major_pct": None, "frax_hip_pct": None, **extra}
        return make_row(exam_id=f"E-{pid}", patient_id=pid, birth_date=None, age_years=age,
                        femoral_neck_t=neck_t, **fields)

    rows = [
        patient("LOW", 62, -1.5),  # row 60: above -2.3
        patient("NONE", 45, -1.5),  # under 50: CAROC not computed
        patient("MODERATE", 70, -2.0),  # row 70: between -1.7 and -3.2
        # moderate, one step up for glucocorticoids; consider through TX-RISK-FEATURES
        patient("HIGH", 80, -2.4, glucocorticoid_mg_day=10, glucocorticoid_months=6),
        patient("KNOWN", 70, -2.0, frax_major_pct=9, frax_hip_pct=1.2),
    ]
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "night", rows, None)
    out = tmp_path / "risk.csv"
    assert export_worklist("risk-assessment", tmp_path / "r.duckdb", out,
                           ruleset="core-2025@3") == 4
    listed = pl.read_csv(out)
    assert listed.select("patient_id", "caroc_risk", "treatment").rows() == [
        ("HIGH", "high", "consider"), ("MODERATE", "moderate", "needs_risk_assessment"),
        ("LOW", "low", "needs_risk_assessment"), ("NONE", None, "needs_risk_assessment")]
