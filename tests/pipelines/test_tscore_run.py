"""TSCORE-FROM-BMD through `dxa run`: a BMD-only row of a recorded Hologic scanner gets
its T-score (listed in t_score_sources); with the manufacturer blank nothing is computed,
and a row left without any score is quarantined with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()
#: 0.738 g/cm2 at the femoral neck is T -1.0 on the NHANES III (Hologic) reference.
NECK_BMD_ONLY = {"femoral_neck_bmd": "0.738", "femoral_neck_t": "", "femoral_neck_z": ""}
NOT_RECORDED = ("femoral_neck_t: not computed from the BMD: scanner_manufacturer is not "
                "recorded (the nhanes3 reference applies to Hologic scanners only)")


def test_blank_manufacturer_bmd_only_row_is_quarantined_hologic_one_computed(
    tmp_path: Path, prefect_harness
) -> None:
    rows = [
        make_row(exam_id="HOLOGIC", patient_id="P-1", **NECK_BMD_ONLY),
        make_row(exam_id="BLANK", patient_id="P-2", scanner_manufacturer="", **NECK_BMD_ONLY),
        make_row(exam_id="BLANK-Z", patient_id="P-3", scanner_manufacturer="",
                 **{**NECK_BMD_ONLY, "femoral_neck_z": "-1.2"}),
    ]
    data = write_csv(tmp_path / "in.csv", rows)
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(data), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"]) == (
        3, 2, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT exam_id, errors, reason_codes FROM quarantine").fetchall() == [
            ("BLANK", f"{NOT_RECORDED}; scores: no site has a T-score or a Z-score",
             ["T_SCORE_NOT_COMPUTED", "NO_SCORED_SITE"])]
        assert con.execute(
            "SELECT exam_id, site, t_reference, t_score FROM t_score_sources").fetchall() == [
            ("HOLOGIC", "femoral_neck", "nhanes3", -1.0)]
        assert con.execute(
            "SELECT exam_id, femoral_neck_t FROM exams ORDER BY exam_id").fetchall() == [
            ("BLANK-Z", None), ("HOLOGIC", -1.0)]
        assert con.execute(
            "SELECT exam_id, basis, who_category FROM assessments ORDER BY exam_id"
        ).fetchall() == [("BLANK-Z", "not_assessed", None), ("HOLOGIC", "who_t_score", "normal")]
        assert con.execute(
            "SELECT exam_id, code, severity, detail FROM flags WHERE code IN "
            "('T_SCORE_NOT_COMPUTED', 'NO_DIAGNOSTIC_SITE') ORDER BY exam_id, code"
        ).fetchall() == [
            ("BLANK-Z", "NO_DIAGNOSTIC_SITE", "warning",
             "WHO basis needs a T-score but no valid diagnostic site has one"),
            ("BLANK-Z", "T_SCORE_NOT_COMPUTED", "info",
             "femoral_neck: T-score not computed from the BMD: scanner_manufacturer is not "
             "recorded (the nhanes3 reference applies to Hologic scanners only)"),
        ]
