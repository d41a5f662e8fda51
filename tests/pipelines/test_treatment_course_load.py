"""The treatment-course flags through the loader: the patients' earlier exams come from the
registry (an earlier fracture argues for continuing), the losses from the serial
comparison of the same batch (TC-FAILURE), whole and staged loads alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_rows import make_row
from test_serial_load import load

from pipelines.registry.store import registry
from transforms.precision import load_precision

COURSE_FLAGS = ("SELECT exam_id, code, severity, detail, ruleset FROM flags WHERE code IN"
                " ('DRUG_HOLIDAY_REVIEW', 'CONTINUE_THERAPY_REVIEW', 'DENOSUMAB_NO_INTERRUPTION',"
                " 'ANABOLIC_COURSE_COMPLETE', 'FRACTURE_ON_TREATMENT',"
                " 'TREATMENT_FAILURE_REVIEW') ORDER BY exam_id, code")


def exam(exam_id: str, patient: str, date: str, spine: float, neck: float,
         **extra: object) -> dict[str, str]:
    """An exam on alendronate since 2015-01-01 (no fracture, neck T -2.1)."""
    course = {"treatment_drug": "alendronate", "treatment_start_date": "2015-01-01", **extra}
    return make_row(exam_id=exam_id, patient_id=patient, exam_date=date, spine_bmd=spine,
                    spine_t=-1.5, femoral_neck_bmd=neck, on_treatment="yes", **course)


@pytest.mark.parametrize("batch_bytes", [None, 100], ids=["whole", "staged"])
def test_course_flags_read_the_registry_and_the_comparison(
    tmp_path: Path, batch_bytes: int | None
) -> None:
    precision = load_precision()
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "night1", [
            exam("A1", "PA", "2016-01-01", 1.00, 0.70),
            exam("B1", "PB", "2016-01-01", 1.00, 0.70, prior_fragility_fracture="yes"),
            exam("D1", "PD", "2018-01-01", 1.00, 0.70, treatment_drug="denosumab"),
        ], precision, batch_bytes)
        assert con.execute(COURSE_FLAGS).fetchall() == [
            ("D1", "DENOSUMAB_NO_INTERRUPTION", "warning", "denosumab", None)]
        load(con, tmp_path, "night2", [
            exam("A2", "PA", "2020-06-01", 0.90, 0.60),   # 5.4 years; both sites lost
            exam("B2", "PB", "2020-06-01", 1.00, 0.70),   # the fracture was on B1
        ], precision, batch_bytes)
        assert con.execute(COURSE_FLAGS).fetchall() == [
            ("A2", "DRUG_HOLIDAY_REVIEW", "info", "alendronate for 5.4 years", None),
            ("A2", "TREATMENT_FAILURE_REVIEW", "high",
             "alendronate for 5.4 years: 2 site(s) with significant loss", None),
            ("B2", "CONTINUE_THERAPY_REVIEW", "info", "alendronate for 5.4 years", None),
            ("D1", "DENOSUMAB_NO_INTERRUPTION", "warning", "denosumab", None),
        ]
