"""Serial exam comparison (clinical-rules.md §7): like with like (CHG-SAME-REGION): the
same hip, the same vertebra count, a hip side not recorded, the radius."""

from __future__ import annotations

from pathlib import Path

import pytest
from precision_files import write_precision
from serial_frames import EMPTY, frame

from transforms.precision import PrecisionTable, load_precision
from transforms.serial import compare_serial

# --- regions (CHG-SAME-REGION) -----------------------------------------------------------


def test_other_hip_gives_no_verdict_and_flags_region_changed(default: PrecisionTable) -> None:
    """A right hip is not compared with a left hip: no false LOSS_ON_TREATMENT."""
    history = frame(
        ("E1", "P1", "2022-01-01", "S1", True, "total_hip", 1.0, "left"),
        ("E1", "P1", "2022-01-01", "S1", True, "femoral_neck", 0.9, "left"),
    )
    batch = frame(
        ("E2", "P1", "2023-01-01", "S1", True, "total_hip", 0.8, "right"),
        ("E2", "P1", "2023-01-01", "S1", True, "femoral_neck", 0.7, "right"),
    )
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.flags.to_dicts() == [
        {"exam_id": "E2", "code": "REGION_CHANGED", "severity": "warning",
         "detail": "femoral_neck: right hip, earlier exams on this scanner: left hip",
         "ruleset": None},
        {"exam_id": "E2", "code": "REGION_CHANGED", "severity": "warning",
         "detail": "total_hip: right hip, earlier exams on this scanner: left hip",
         "ruleset": None},
    ]


@pytest.mark.parametrize(("old", "new", "others"), [
    (None, 2, "4"),  # blank = the contract's default of 4 vertebrae
    (4, 3, "4"),
    (2, None, "2"),
])
def test_other_vertebra_count_flags_region_changed(
    default: PrecisionTable, old: int | None, new: int | None, others: str
) -> None:
    history = frame(("E1", "P1", "2022-01-01", "S1", True, "spine", 1.0, old))
    batch = frame(("E2", "P1", "2023-01-01", "S1", True, "spine", 0.8, new))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    count = 4 if new is None else new
    assert result.flags.select("code", "severity", "detail").rows() == [
        ("REGION_CHANGED", "warning",
         f"spine: {count} vertebrae, earlier exams on this scanner: {others} vertebrae")
    ]


def test_region_changed_names_every_earlier_count(default: PrecisionTable) -> None:
    batch = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0, 4),
        ("E2", "P1", "2021-01-01", "S1", False, "spine", 1.0, 3),
        ("E3", "P1", "2022-01-01", "S1", False, "spine", 1.0, 2),
        ("E4", "P1", "2022-06-01", "S2", False, "spine", 1.0, 2),  # another scanner
    )
    flags = compare_serial(batch, EMPTY, default).flags
    assert flags.select("exam_id", "code", "detail").rows() == [
        ("E2", "REGION_CHANGED", "spine: 3 vertebrae, earlier exams on this scanner: 4 vertebrae"),
        ("E3", "REGION_CHANGED",
         "spine: 2 vertebrae, earlier exams on this scanner: 3, 4 vertebrae"),
        ("E4", "SCANNER_CHANGED", "spine: no earlier exam on this scanner"),
    ]


def test_blank_vertebrae_equal_four(default: PrecisionTable) -> None:
    history = frame(("E1", "P1", "2022-01-01", "S1", False, "spine", 1.0, None))
    batch = frame(("E2", "P1", "2023-01-01", "S1", False, "spine", 0.98, 4))
    row = compare_serial(batch, history, default).changes.row(0, named=True)
    assert (row["prior_exam_id"], row["region_verified"]) == ("E1", True)


def test_left_right_left_compares_the_third_with_the_first(default: PrecisionTable) -> None:
    batch = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "total_hip", 1.0, "left"),
        ("E2", "P1", "2021-01-01", "S1", False, "total_hip", 0.5, "right"),
        ("E3", "P1", "2022-01-01", "S1", False, "total_hip", 0.97, "left"),
    )
    result = compare_serial(batch, EMPTY, default)
    assert result.changes.select(
        "exam_id", "comparison", "prior_exam_id", "pct_change", "direction", "region_verified"
    ).rows() == [("E3", "previous", "E1", -3.0, "stable", True)]
    assert result.flags.select("exam_id", "code").rows() == [("E2", "REGION_CHANGED")]


@pytest.mark.parametrize(("old", "new"), [(None, "left"), ("right", None), (None, None)])
def test_hip_side_not_recorded_compares_unverified(
    default: PrecisionTable, old: str | None, new: str | None
) -> None:
    history = frame(("E1", "P1", "2022-01-01", "S1", True, "total_hip", 1.0, old))
    batch = frame(("E2", "P1", "2023-01-01", "S1", True, "total_hip", 0.9, new))
    result = compare_serial(batch, history, default)
    assert result.changes.select(
        "exam_id", "prior_exam_id", "pct_change", "significant", "region_verified"
    ).rows() == [("E2", "E1", -10.0, True, False)]
    assert result.flags.select("code", "detail").rows() == [
        ("LOSS_ON_TREATMENT", "total_hip -10.0% vs previous (region not verified) (LSC 5.0%)")
    ]


def test_loss_detail_marks_only_the_unverified_comparison(default: PrecisionTable) -> None:
    """CHG-LOSS: the detail says which comparison, and `region not verified` where a hip
    side was not recorded: here the baseline's, not the previous exam's."""
    batch = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "total_hip", 1.0, None),
        ("E2", "P1", "2021-01-01", "S1", False, "total_hip", 0.96, "left"),
        ("E3", "P1", "2022-01-01", "S1", False, "total_hip", 0.85, "left"),
    )
    result = compare_serial(batch, EMPTY, default)
    assert sorted(result.changes.filter(exam_id="E3").select(
        "comparison", "prior_exam_id", "region_verified").rows()) == [
        ("baseline", "E1", False), ("previous", "E2", True)]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("E3", "SIGNIFICANT_BMD_LOSS",
         "total_hip -11.5% vs previous, -15.0% vs baseline (region not verified) (LSC 5.0%)")
    ]


def test_a_known_side_sees_unknown_side_exams_and_its_own(default: PrecisionTable) -> None:
    batch = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "total_hip", 1.0, "left"),
        ("E2", "P1", "2021-01-01", "S1", False, "total_hip", 0.99, None),
        ("E3", "P1", "2022-01-01", "S1", False, "total_hip", 0.98, "right"),
        ("E4", "P1", "2023-01-01", "S1", False, "total_hip", 0.97, "left"),
    )
    result = compare_serial(batch, EMPTY, default)
    assert result.changes.select(
        "exam_id", "comparison", "prior_exam_id", "region_verified"
    ).rows() == [
        ("E2", "previous", "E1", False),
        ("E3", "previous", "E2", False),  # E2 is prior and baseline: one row
        ("E4", "baseline", "E1", True),
        ("E4", "previous", "E2", False),  # E3 is the other hip
    ]
    assert result.flags.height == 0


def test_an_unknown_side_sees_both_sides(default: PrecisionTable) -> None:
    batch = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "femoral_neck", 1.0, "left"),
        ("E2", "P1", "2021-01-01", "S1", False, "femoral_neck", 0.99, "right"),
        ("E3", "P1", "2022-01-01", "S1", False, "femoral_neck", 0.98, None),
    )
    result = compare_serial(batch, EMPTY, default)
    assert result.changes.select(
        "exam_id", "comparison", "prior_exam_id", "region_verified"
    ).rows() == [
        ("E3", "baseline", "E1", False),
        ("E3", "previous", "E2", False),
    ]
    assert result.flags.select("exam_id", "code").rows() == [("E2", "REGION_CHANGED")]


def test_the_radius_is_one_region(tmp_path: Path) -> None:
    table = load_precision(write_precision(tmp_path, "[default]\nradius_33 = 1.0\n"))
    history = frame(("E1", "P1", "2022-01-01", "S1", False, "radius_33", 1.0))
    batch = frame(("E2", "P1", "2023-01-01", "S1", False, "radius_33", 0.97))
    row = compare_serial(batch, history, table).changes.row(0, named=True)
    assert (row["prior_exam_id"], row["lsc_pct"], row["direction"], row["region_verified"]) == (
        "E1", 2.77, "decrease", True)
