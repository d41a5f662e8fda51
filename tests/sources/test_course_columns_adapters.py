"""The vendor adapters (APEX, Lunar, NHANES) carry no treatment course: the contract's
treatment-course columns come out "not recorded" (null), and nothing is implied."""

from __future__ import annotations

from pathlib import Path

import pytest
from nhanes_files import participant, write_nhanes

from pipelines.ingest.prepare import prepare_input
from samplegen.apex import write_apex_export
from samplegen.canonical import generate_exams
from samplegen.lunar import write_lunar_dicoms
from sources.base import ReadOptions
from sources.detect import Input

COURSE = ("treatment_drug", "treatment_start_date", "last_fracture_date")


def _apex(folder: Path) -> list[Input]:
    write_apex_export(generate_exams(12, seed=5), folder, seed=5)
    return [Input(folder, "hologic_apex")]


def _lunar(folder: Path) -> list[Input]:
    _, paths = write_lunar_dicoms(generate_exams(6, seed=5), folder, variant="sr", seed=5)
    return [Input(path, "ge_lunar_dicom") for path in paths]


def _nhanes(folder: Path) -> list[Input]:
    return [Input(write_nhanes(folder, [participant(1), participant(2, sex=1)]), "nhanes")]


@pytest.mark.parametrize("inputs", [_apex, _lunar, _nhanes])
def test_vendor_exams_leave_the_treatment_course_not_recorded(tmp_path: Path, inputs) -> None:
    valid = []
    for item in inputs(tmp_path / "in"):
        prepared = prepare_input(item, ReadOptions())
        assert prepared.error is None, prepared.error
        valid.append(prepared.valid)
    loaded = sum(frame.height for frame in valid)
    assert loaded > 0
    for frame in valid:
        for column in COURSE:
            assert frame[column].null_count() == frame.height, column
