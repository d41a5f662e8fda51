"""Serial exams through the whole flow, report views, overdue follow-up and `dxa report`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.flow import registry_flow
from pipelines.publish import reporting_copy_path

pytestmark = pytest.mark.usefixtures("prefect_harness")

VIEWS = ("v_latest_assessment", "v_treatment_candidates", "v_followup_overdue",
         "v_data_quality", "v_scanner_summary", "v_run_history")


def spine_exam(exam_id: str, date: str, bmd: float, serial: str = "S1", **extra) -> dict:
    return make_row(exam_id=exam_id, patient_id="P-9", exam_date=date, scanner_serial=serial,
                    spine_bmd=bmd, spine_t=-1.5, spine_z=-0.5, **extra)


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_changes_across_runs_and_inside_one_batch(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    night1 = write_csv(tmp_path / "n1.csv", [spine_exam("X1", "2021-01-10", 1.000)])
    night2 = write_csv(tmp_path / "n2.csv", [
        spine_exam("X2", "2022-01-10", 0.948),                    # -5.2%: within LSC 5.263
        spine_exam("X3", "2023-01-10", 0.890, on_treatment="yes"),  # -6.1% on treatment
        spine_exam("X4", "2024-01-10", 0.800, serial="S2"),        # other scanner: no verdict
    ])
    registry_flow(paths=[str(night1)], db=str(db))
    registry_flow(paths=[str(night2)], db=str(db))
    changes = rows(db, "SELECT exam_id, prior_exam_id, site, round(pct_change, 2), lsc_pct,"
                       " significant, direction, days_between FROM bmd_changes WHERE site = 'spine'"
                       " ORDER BY exam_id")
    assert changes == [
        ("X2", "X1", "spine", -5.2, 5.263, False, "stable", 365),
        ("X3", "X2", "spine", -6.12, 5.263, True, "decrease", 365),
    ]
    flags = rows(db, "SELECT exam_id, code, severity, detail FROM flags WHERE code IN"
                     " ('SIGNIFICANT_BMD_LOSS', 'LOSS_ON_TREATMENT', 'SCANNER_CHANGED')"
                     " ORDER BY exam_id, detail")
    assert flags == [
        ("X3", "LOSS_ON_TREATMENT", "high", "spine -6.1% (LSC 5.3%)"),
        ("X4", "SCANNER_CHANGED", "info", "femoral_neck: previous exam on another scanner"),
        ("X4", "SCANNER_CHANGED", "info", "spine: previous exam on another scanner"),
    ]


def test_views_and_overdue_as_of_several_dates(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [
        # osteopenia, not treated: next DXA due at +24 months (2024-03-01 -> 2026-03-01)
        make_row(exam_id="O1", patient_id="PA", exam_date="2024-03-01"),
        # patient PB: an older exam due long ago, but a later exam exists (not overdue)
        make_row(exam_id="B1", patient_id="PB", exam_date="2020-01-01"),
        make_row(exam_id="B2", patient_id="PB", exam_date="2025-06-01"),
        make_row(exam_id="N1", patient_id="PC", femoral_neck_t="-0.5"),  # normal: no date
    ])
    registry_flow(paths=[str(data)], db=str(db))
    for view in VIEWS:
        assert rows(db, f"SELECT count(*) FROM {view}")[0][0] >= 0
    assert rows(db, "SELECT exam_id FROM v_latest_assessment ORDER BY exam_id") == [
        ("B2",), ("N1",), ("O1",)]

    def overdue(as_of: str) -> list[tuple]:
        return rows(db, f"SELECT patient_id, exam_id, days_overdue FROM"
                        f" followup_overdue(DATE '{as_of}') ORDER BY 1")

    assert overdue("2026-03-01") == []                           # due that day: not yet overdue
    assert overdue("2026-03-02") == [("PA", "O1", 1)]
    assert overdue("2027-06-02") == [("PA", "O1", 458), ("PB", "B2", 1)]
    assert rows(db, "SELECT count(*) FROM v_treatment_candidates")[0][0] == 0
    scanner = rows(db, "SELECT scanner_serial, exams, mean_t_femoral_neck FROM v_scanner_summary")
    assert scanner == [("HZ-100", 4, -1.7)]
    assert rows(db, "SELECT rows_loaded FROM v_run_history") == [(4,)]


def test_report_shows_overdue_and_significant_losses(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [
        spine_exam("Y1", "2021-01-10", 1.000), spine_exam("Y2", "2022-01-10", 0.900)])
    registry_flow(paths=[str(data)], db=str(db))
    copy = reporting_copy_path(db)
    result = CliRunner().invoke(app, ["report", "--db", str(copy), "--as-of", "2030-01-01",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    overdue = next(v for k, v in report.items() if k.startswith("follow-up overdue"))
    assert overdue == {"core-2025@1: over 12 months": "1"}
    losses = report["significant losses in the latest run"]
    assert losses == {"SIGNIFICANT_BMD_LOSS (warning)": "1"}
    assert report["significant BMD change (same scanner, beyond LSC)"] == {"spine: decrease": "1"}
    table = CliRunner().invoke(app, ["report", "--db", str(copy), "--as-of", "2030-01-01"])
    assert "over 12 months" in table.output and "SIGNIFICANT_BMD_LOSS" in table.output
    assert "P-9" not in table.output
