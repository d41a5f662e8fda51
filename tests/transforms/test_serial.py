"""Serial exam comparison (clinical-rules.md §7) and the precision configuration behind it.

Values are asserted exactly: pct_change and lsc_pct are rounded to 6 decimals by design,
so a change exactly at the LSC is reproducibly "not significant".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from precision_files import write_precision

from transforms.measurements import serial_input
from transforms.precision import (
    PrecisionTable,
    load_precision,
)
from transforms.serial import (
    CHANGE_SCHEMA,
    FLAG_SCHEMA,
    INPUT_SCHEMA,
    compare_serial,
    with_other_exams,
)

Row = tuple  # (exam_id, patient_id, date, serial, on_treatment, site, bmd[, region])


def frame(*rows: Row) -> pl.DataFrame:
    """Measurement rows: (exam_id, patient_id, date, serial, on_treatment, site, bmd), and
    optionally the region: the hip side (hip sites, default left) or the vertebra count
    (spine, default blank = 4)."""
    out = []
    for exam, patient, day, serial, treated, site, bmd, *region in rows:
        hip = site in ("total_hip", "femoral_neck")
        value = region[0] if region else ("left" if hip else None)
        out.append((exam, patient, dt.date.fromisoformat(day), serial, treated, site, bmd,
                    value if hip else None, value if site == "spine" else None))
    return pl.DataFrame(out, schema=INPUT_SCHEMA, orient="row")


EMPTY = frame()


def change(result_changes: pl.DataFrame, exam: str, site: str) -> dict:
    rows = result_changes.filter((pl.col("exam_id") == exam) & (pl.col("site") == site))
    assert rows.height == 1
    return rows.row(0, named=True)


# --- change verdicts -------------------------------------------------------------------


def one_change(default: PrecisionTable, bmd: float, site: str = "spine",
               treated: bool | None = False) -> tuple[dict, pl.DataFrame]:
    history = frame(("E1", "P1", "2022-03-01", "S1", False, site, 1.0))
    batch = frame(("E2", "P1", "2024-03-01", "S1", treated, site, bmd))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 1
    return result.changes.row(0, named=True), result.flags


@pytest.mark.parametrize(
    ("bmd", "pct", "significant", "direction"),
    [
        (0.9474, -5.26, False, "stable"),
        (0.94737, -5.263, False, "stable"),  # abs == LSC exactly: not significant
        (0.9473, -5.27, True, "decrease"),
        (1.0526, 5.26, False, "stable"),
        (1.05263, 5.263, False, "stable"),
        (1.0527, 5.27, True, "increase"),
        (1.0, 0.0, False, "stable"),
    ],
)
def test_spine_verdict_on_both_sides_of_the_lsc(
    default: PrecisionTable, bmd: float, pct: float, significant: bool, direction: str
) -> None:
    row, flags = one_change(default, bmd)
    assert row == {
        "exam_id": "E2",
        "prior_exam_id": "E1",
        "site": "spine",
        "bmd_g_cm2": bmd,
        "prior_bmd_g_cm2": 1.0,
        "pct_change": pct,
        "lsc_pct": 5.263,
        "significant": significant,
        "direction": direction,
        "days_between": 731,
        "comparison": "previous",
        "lsc_source": "default",
        "region_verified": True,
    }
    if direction == "decrease":
        assert flags.to_dicts() == [
            {"exam_id": "E2", "code": "SIGNIFICANT_BMD_LOSS", "severity": "warning",
             "detail": "spine -5.3% vs previous (LSC 5.3%)", "ruleset": None}
        ]
    else:
        assert flags.height == 0


def test_increase_raises_no_flag(default: PrecisionTable) -> None:
    row, flags = one_change(default, 1.08, site="total_hip")
    assert (row["pct_change"], row["lsc_pct"], row["direction"]) == (8.0, 4.986, "increase")
    assert flags.height == 0


def test_loss_on_treatment_is_high(default: PrecisionTable) -> None:
    row, flags = one_change(default, 0.939, site="total_hip", treated=True)
    assert (row["pct_change"], row["lsc_pct"], row["significant"]) == (-6.1, 4.986, True)
    assert flags.to_dicts() == [
        {"exam_id": "E2", "code": "LOSS_ON_TREATMENT", "severity": "high",
         "detail": "total_hip -6.1% vs previous (LSC 5.0%)", "ruleset": None}
    ]


def test_unknown_treatment_is_plain_loss(default: PrecisionTable) -> None:
    _, flags = one_change(default, 0.939, site="total_hip", treated=None)
    assert flags["code"].to_list() == ["SIGNIFICANT_BMD_LOSS"]


def test_femoral_neck_default_lsc(default: PrecisionTable) -> None:
    row, flags = one_change(default, 0.93, site="femoral_neck")
    assert (row["pct_change"], row["lsc_pct"], row["significant"]) == (-7.0, 6.925, True)
    assert flags["detail"].to_list() == ["femoral_neck -7.0% vs previous (LSC 6.9%)"]


def test_radius_without_precision_has_no_verdict(default: PrecisionTable) -> None:
    row, flags = one_change(default, 0.5, site="radius_33")
    assert row["pct_change"] == -50.0
    assert row["lsc_pct"] is None
    assert row["significant"] is None
    assert row["direction"] is None
    assert flags.height == 0


def test_per_scanner_precision_override(tmp_path: Path) -> None:
    text = '[default]\nspine = 1.9\n[scanner."HZ-100"]\nspine = 1.2\n'
    table = load_precision(write_precision(tmp_path, text))
    history = frame(
        ("A1", "P1", "2022-01-01", "HZ-100", False, "spine", 1.0),
        ("B1", "P2", "2022-01-01", "OTHER", False, "spine", 1.0),
    )
    batch = frame(
        ("A2", "P1", "2023-01-01", "HZ-100", False, "spine", 0.96),
        ("B2", "P2", "2023-01-01", "OTHER", False, "spine", 0.96),
    )
    result = compare_serial(batch, history, table)
    assert result.changes.select("exam_id", "pct_change", "lsc_pct", "significant").rows() == [
        ("A2", -4.0, 3.324, True),
        ("B2", -4.0, 5.263, False),
    ]
    assert result.flags.to_dicts() == [
        {"exam_id": "A2", "code": "SIGNIFICANT_BMD_LOSS", "severity": "warning",
         "detail": "spine -4.0% vs previous (LSC 3.3%)", "ruleset": None}
    ]


# --- scanners (CHG-SAME-SCANNER, CHG-SCANNER-CHANGED) ---------------------------------


def test_scanner_change_flags_and_gives_no_change_row(default: PrecisionTable) -> None:
    history = frame(
        ("E1", "P1", "2022-01-01", "S1", False, "spine", 1.0),
        ("E1", "P1", "2022-01-01", "S1", False, "total_hip", 1.0),
    )
    batch = frame(
        ("E2", "P1", "2023-01-01", "S2", True, "spine", 0.5),
        ("E2", "P1", "2023-01-01", "S2", True, "total_hip", 0.5),
    )
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.changes.schema == pl.Schema(CHANGE_SCHEMA)
    assert result.flags.to_dicts() == [
        {"exam_id": "E2", "code": "SCANNER_CHANGED", "severity": "warning",
         "detail": "spine: no earlier exam on this scanner", "ruleset": None},
        {"exam_id": "E2", "code": "SCANNER_CHANGED", "severity": "warning",
         "detail": "total_hip: no earlier exam on this scanner", "ruleset": None},
    ]


@pytest.mark.parametrize(("old", "new", "detail"), [
    (None, "S1", "spine: no earlier exam on this scanner"),
    ("S1", None, "spine: scanner serial not recorded"),
    (None, None, "spine: scanner serial not recorded"),
])
def test_null_serial_is_an_unknown_scanner(
    default: PrecisionTable, old: str | None, new: str | None, detail: str
) -> None:
    history = frame(("E1", "P1", "2022-01-01", old, False, "spine", 1.0))
    batch = frame(("E2", "P1", "2023-01-01", new, False, "spine", 0.5))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.flags.to_dicts() == [
        {"exam_id": "E2", "code": "SCANNER_CHANGED", "severity": "warning",
         "detail": detail, "ruleset": None}
    ]


def test_prior_is_the_last_exam_on_the_same_scanner_across_another_scanner(
    default: PrecisionTable,
) -> None:
    """CHG-PRIOR: an exam on another scanner in between does not hide a real loss."""
    history = frame(
        ("E1", "P1", "2020-01-01", "S1", True, "spine", 1.0),
        ("E2", "P1", "2021-01-01", "S2", True, "spine", 1.05),
    )
    batch = frame(("E3", "P1", "2022-01-01", "S1", True, "spine", 0.9))
    result = compare_serial(batch, history, default)
    assert result.changes.select(
        "exam_id", "comparison", "prior_exam_id", "pct_change", "days_between"
    ).rows() == [("E3", "previous", "E1", -10.0, 731)]
    assert result.flags.select("exam_id", "code", "severity", "detail").rows() == [
        ("E3", "LOSS_ON_TREATMENT", "high", "spine -10.0% vs previous (LSC 5.3%)")
    ]  # no SCANNER_CHANGED: E3 has an earlier exam on its scanner


def test_the_other_scanner_exam_itself_is_flagged(default: PrecisionTable) -> None:
    batch = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("E2", "P1", "2021-01-01", "S2", False, "spine", 1.05),
        ("E3", "P1", "2022-01-01", "S2", False, "spine", 1.05),
    )
    result = compare_serial(batch, EMPTY, default)
    assert result.changes.select("exam_id", "prior_exam_id").rows() == [("E3", "E2")]
    assert result.flags.select("exam_id", "code").rows() == [("E2", "SCANNER_CHANGED")]


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
        ("LOSS_ON_TREATMENT", "total_hip -10.0% vs previous (LSC 5.0%)")
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


# --- prior and baseline (CHG-PRIOR, CHG-BASELINE, CHG-LOSS) -----------------------------


def test_three_exams_in_one_batch_chain(default: PrecisionTable) -> None:
    batch = frame(
        ("E3", "P1", "2024-01-01", "S1", False, "spine", 0.9),
        ("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("E2", "P1", "2022-01-01", "S1", False, "spine", 0.95),
    )
    result = compare_serial(batch, EMPTY, default)
    assert result.changes.select(
        "exam_id", "comparison", "prior_exam_id", "pct_change", "direction", "days_between"
    ).rows() == [
        ("E2", "previous", "E1", -5.0, "stable", 731),  # E1 is prior and baseline: one row
        ("E3", "baseline", "E1", -10.0, "decrease", 1461),
        ("E3", "previous", "E2", -5.263158, "decrease", 730),  # just above the 5.263 LSC
    ]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("E3", "SIGNIFICANT_BMD_LOSS", "spine -5.3% vs previous, -10.0% vs baseline (LSC 5.3%)")
    ]


def test_history_and_batch_chain(default: PrecisionTable) -> None:
    history = frame(
        ("H1", "P1", "2018-01-01", "S1", False, "spine", 1.2),
        ("H2", "P1", "2020-01-01", "S1", False, "spine", 1.0),
    )
    batch = frame(
        ("B2", "P1", "2024-01-01", "S1", True, "spine", 0.85),
        ("B1", "P1", "2022-01-01", "S1", True, "spine", 0.9),
    )
    result = compare_serial(batch, history, default)
    columns = ("exam_id", "comparison", "prior_exam_id", "pct_change", "significant")
    assert result.changes.select(columns).rows() == [
        ("B1", "baseline", "H1", -25.0, True),
        ("B1", "previous", "H2", -10.0, True),
        ("B2", "baseline", "H1", -29.166667, True),
        ("B2", "previous", "B1", -5.555556, True),
    ]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("B1", "LOSS_ON_TREATMENT", "spine -10.0% vs previous, -25.0% vs baseline (LSC 5.3%)"),
        ("B2", "LOSS_ON_TREATMENT", "spine -5.6% vs previous, -29.2% vs baseline (LSC 5.3%)"),
    ]


def test_baseline_catches_slow_loss_under_the_lsc(default: PrecisionTable) -> None:
    """-2 % a year on treatment, under the total hip LSC of 5.0 % at every visit: the
    baseline comparison flags it from the fourth exam on (-5.9 %), the previous never."""
    bmd = [1.0, 0.98, 0.9604, 0.941192, 0.922368, 0.903921]
    batch = frame(*(
        (f"E{n}", "P1", f"{2020 + n}-01-01", "S1", True, "total_hip", value)
        for n, value in enumerate(bmd)
    ))
    result = compare_serial(batch, EMPTY, default)
    previous = result.changes.filter(pl.col("comparison") == "previous")
    assert previous["direction"].to_list() == ["stable"] * 5
    assert previous["pct_change"].round(3).to_list() == [-2.0] * 5
    baseline = result.changes.filter(pl.col("comparison") == "baseline")
    assert baseline.select("exam_id", "prior_exam_id", "pct_change", "direction").rows() == [
        ("E2", "E0", -3.96, "stable"),
        ("E3", "E0", -5.8808, "decrease"),
        ("E4", "E0", -7.7632, "decrease"),
        ("E5", "E0", -9.6079, "decrease"),
    ]
    assert result.flags.select("exam_id", "code", "severity", "detail").rows() == [
        ("E3", "LOSS_ON_TREATMENT", "high", "total_hip -5.9% vs baseline (LSC 5.0%)"),
        ("E4", "LOSS_ON_TREATMENT", "high", "total_hip -7.8% vs baseline (LSC 5.0%)"),
        ("E5", "LOSS_ON_TREATMENT", "high", "total_hip -9.6% vs baseline (LSC 5.0%)"),
    ]


def test_baseline_tie_takes_the_smallest_exam_id(default: PrecisionTable) -> None:
    history = frame(
        ("H-B", "P1", "2018-01-01", "S1", False, "spine", 1.0),
        ("H-A", "P1", "2018-01-01", "S1", False, "spine", 2.0),
        ("H-C", "P1", "2020-01-01", "S1", False, "spine", 1.0),
    )
    batch = frame(("E1", "P1", "2022-01-01", "S1", False, "spine", 1.0))
    assert compare_serial(batch, history, default).changes.select(
        "comparison", "prior_exam_id", "pct_change").rows() == [
        ("baseline", "H-A", -50.0), ("previous", "H-C", 0.0)]


def test_lsc_source_precision_study_or_default(tmp_path: Path) -> None:
    text = '[default]\nspine = 1.9\ntotal_hip = 1.8\n[scanner."HZ-100"]\nspine = 1.2\n'
    table = load_precision(write_precision(tmp_path, text))
    history = frame(
        ("A1", "P1", "2022-01-01", "HZ-100", False, "spine", 1.0),
        ("A1", "P1", "2022-01-01", "HZ-100", False, "total_hip", 1.0),
        ("A1", "P1", "2022-01-01", "HZ-100", False, "radius_33", 1.0),
        ("B1", "P2", "2022-01-01", "OTHER", False, "spine", 1.0),
    )
    batch = frame(
        ("A2", "P1", "2023-01-01", "HZ-100", False, "spine", 0.96),
        ("A2", "P1", "2023-01-01", "HZ-100", False, "total_hip", 0.96),
        ("A2", "P1", "2023-01-01", "HZ-100", False, "radius_33", 0.96),
        ("B2", "P2", "2023-01-01", "OTHER", False, "spine", 0.96),
    )
    result = compare_serial(batch, history, table)
    assert result.changes.select("exam_id", "site", "lsc_pct", "lsc_source").rows() == [
        ("A2", "radius_33", None, None),  # no precision known: no LSC, no source
        ("A2", "spine", 3.324, "precision_study"),  # the scanner's own study
        ("A2", "total_hip", 4.986, "default"),  # the scanner's study has no total hip
        ("B2", "spine", 5.263, "default"),  # the file's registry-wide default
    ]
    shipped = compare_serial(batch, history, load_precision()).changes
    assert set(shipped["lsc_source"].drop_nulls()) == {"default"}


def test_patient_without_previous_exam_gives_nothing(default: PrecisionTable) -> None:
    history = frame(("X1", "OTHER", "2020-01-01", "S1", False, "spine", 1.0))
    batch = frame(("E1", "P1", "2024-01-01", "S1", False, "spine", 0.5))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.flags.height == 0
    assert result.flags.schema == pl.Schema(FLAG_SCHEMA)


def test_later_history_exam_is_not_a_prior_but_is_judged_again(
    default: PrecisionTable,
) -> None:
    """An exam arriving after a later one (back-fill): the new exam has no prior; the
    registry's later exam now has the new one as its prior and is judged again."""
    history = frame(
        ("H0", "P1", "2020-01-01", "S1", False, "spine", 0.5),
        ("H9", "P1", "2025-01-01", "S1", False, "spine", 1.0),
    )
    batch = frame(("E1", "P1", "2024-01-01", "S1", False, "spine", 0.9))
    result = compare_serial(batch, history, default)
    assert result.changes.select("exam_id", "comparison", "prior_exam_id").rows() == [
        ("E1", "previous", "H0"), ("H9", "baseline", "H0"), ("H9", "previous", "E1"),
    ]
    assert result.rejudged.to_list() == ["H9"]  # H0 is earlier: its verdict stands


def test_back_filled_exam_becomes_the_baseline_of_every_later_exam(
    default: PrecisionTable,
) -> None:
    """CHG-BASELINE on a back-fill: the registry's later exams are judged again, and the
    new earliest exam is now their baseline (and the prior of the first)."""
    history = frame(
        ("H2", "P1", "2022-01-01", "S1", True, "spine", 0.96),
        ("H3", "P1", "2024-01-01", "S1", True, "spine", 0.92),
    )
    batch = frame(("E1", "P1", "2020-01-01", "S1", True, "spine", 1.0))
    result = compare_serial(batch, history, default)
    assert result.rejudged.to_list() == ["H2", "H3"]
    assert result.changes.select(
        "exam_id", "comparison", "prior_exam_id", "pct_change", "direction"
    ).rows() == [
        ("H2", "previous", "E1", -4.0, "stable"),
        ("H3", "baseline", "E1", -8.0, "decrease"),
        ("H3", "previous", "H2", -4.166667, "stable"),
    ]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("H3", "LOSS_ON_TREATMENT", "spine -8.0% vs baseline (LSC 5.3%)")
    ]


def test_back_filled_exam_of_the_other_hip_flags_region_changed(
    default: PrecisionTable,
) -> None:
    history = frame(
        ("H2", "P1", "2022-01-01", "S1", False, "total_hip", 0.9, "left"),
        ("H3", "P1", "2024-01-01", "S1", False, "total_hip", 0.9, "left"),
    )
    batch = frame(("E1", "P1", "2020-01-01", "S1", False, "total_hip", 1.0, "right"))
    result = compare_serial(batch, history, default)
    assert result.rejudged.to_list() == ["H2", "H3"]
    assert result.changes.select("exam_id", "comparison", "prior_exam_id").rows() == [
        ("H3", "previous", "H2")]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("H2", "REGION_CHANGED", "total_hip: left hip, earlier exams on this scanner: right hip")
    ]


def test_site_missing_in_previous_exam_uses_latest_exam_with_it(default: PrecisionTable) -> None:
    history = frame(
        ("H1", "P1", "2019-01-01", "S1", False, "total_hip", 1.0),
        ("H1", "P1", "2019-01-01", "S1", False, "spine", 1.1),
        ("H2", "P1", "2021-01-01", "S1", False, "spine", 1.0),
        ("H2", "P1", "2021-01-01", "S1", False, "total_hip", None),  # measured, no BMD
    )
    batch = frame(
        ("E1", "P1", "2023-01-01", "S1", False, "spine", 1.0),
        ("E1", "P1", "2023-01-01", "S1", False, "total_hip", 0.9),
    )
    result = compare_serial(batch, history, default)
    assert result.changes.select(
        "site", "comparison", "prior_exam_id", "pct_change", "days_between"
    ).rows() == [
        ("spine", "baseline", "H1", -9.090909, 1461),
        ("spine", "previous", "H2", 0.0, 730),
        ("total_hip", "previous", "H1", -10.0, 1461),
    ]


def test_same_date_ties_take_the_greatest_exam_id(default: PrecisionTable) -> None:
    history = frame(
        ("H-B", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("H-A", "P1", "2020-01-01", "S1", False, "spine", 2.0),
        ("H-0", "P1", "2019-01-01", "S1", False, "spine", 3.0),
    )
    batch = frame(
        ("E2", "P1", "2022-01-01", "S1", False, "spine", 1.0),
        ("E1", "P1", "2022-01-01", "S1", False, "spine", 1.1),
    )
    result = compare_serial(batch, history, default)
    # Same-day exams are never compared with each other; both compare with the latest
    # earlier exam, the tie on 2020-01-01 going to the greatest exam_id (H-B).
    previous = result.changes.filter(pl.col("comparison") == "previous")
    assert previous.select("exam_id", "prior_exam_id", "pct_change").rows() == [
        ("E1", "H-B", 10.0),
        ("E2", "H-B", 0.0),
    ]


def test_batch_version_of_an_exam_wins_over_history(default: PrecisionTable) -> None:
    history = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("E2", "P1", "2022-01-01", "S1", False, "spine", 5.0),
    )
    batch = frame(("E2", "P1", "2022-01-01", "S1", False, "spine", 0.9))
    assert compare_serial(batch, history, default).changes.select(
        "exam_id", "prior_exam_id", "pct_change"
    ).rows() == [("E2", "E1", -10.0)]


def test_null_batch_bmd_is_skipped(default: PrecisionTable) -> None:
    history = frame(("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0))
    batch = frame(("E2", "P1", "2022-01-01", "S2", False, "spine", None))
    result = compare_serial(batch, history, default)
    assert (result.changes.height, result.flags.height) == (0, 0)


def test_missing_column_is_named(default: PrecisionTable) -> None:
    with pytest.raises(ValueError, match="history: missing columns: bmd_g_cm2"):
        compare_serial(EMPTY, EMPTY.drop("bmd_g_cm2"), default)


# --- order independence -----------------------------------------------------------------

_SITES = ("spine", "total_hip", "femoral_neck", "radius_33")
#: Region draws: hip side (hip sites) or vertebra count (spine; blank = 4).
_HIP_SIDES = ("left", "right", None)
_VERTEBRAE = (None, 4, 3)
_row = st.tuples(
    st.integers(0, 11),  # exam number
    st.sampled_from(_SITES),
    st.sampled_from(["S1", "S2", None]),
    st.one_of(st.none(), st.integers(500, 1500).map(lambda v: v / 1000)),
    st.integers(0, 2),  # region
)


def _region(site: str, draw: int) -> str | int | None:
    if site in ("total_hip", "femoral_neck"):
        return _HIP_SIDES[draw]
    return _VERTEBRAE[draw] if site == "spine" else None


def _exams(draw_rows: list[tuple]) -> pl.DataFrame:
    """Exam n belongs to patient n % 3, on day n // 2 (so some same-day ties)."""
    seen: set[tuple[int, str]] = set()
    rows: list[Row] = []
    for exam, site, serial, bmd, region in draw_rows:
        if (exam, site) in seen:
            continue
        seen.add((exam, site))
        day = (dt.date(2020, 1, 1) + dt.timedelta(days=90 * (exam // 2))).isoformat()
        rows.append((f"E{exam:02d}", f"P{exam % 3}", day, serial if exam % 4 else "S1",
                     exam % 2 == 0, site, bmd, _region(site, region)))
    return frame(*rows)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_row, max_size=40), cut=st.integers(0, 12), seed=st.randoms())
def test_result_does_not_depend_on_row_order(
    default: PrecisionTable, rows: list, cut: int, seed
) -> None:
    exams = _exams(rows)
    number = pl.col("exam_id").str.slice(1).cast(pl.Int32)
    history = exams.filter(number < cut)
    batch = exams.filter(number >= cut)
    first = compare_serial(batch, history, default)
    order_b = list(range(batch.height))
    order_h = list(range(history.height))
    seed.shuffle(order_b)
    seed.shuffle(order_h)
    second = compare_serial(batch[order_b], history[order_h], default)
    assert first.changes.equals(second.changes)
    assert first.flags.equals(second.flags)


# --- leaving out patients with one exam ------------------------------------------------

_exam_row = st.tuples(
    st.integers(0, 5),  # patient
    st.integers(0, 6),  # day (some same-day exams)
    st.sampled_from(["S1", "S2", None]),
    st.tuples(*[st.one_of(st.none(), st.integers(500, 1500).map(lambda v: v / 1000))] * 4),
    st.sampled_from(_HIP_SIDES),
    st.sampled_from(_VERTEBRAE),
)


def _exam_level(rows: list, start: int) -> pl.DataFrame:
    """Exam-level frames as the loader holds them (SERIAL_EXAM_COLUMNS)."""
    return pl.DataFrame(
        [
            (f"E{start + n:03d}", f"P{patient}", dt.date(2020, 1, 1) + dt.timedelta(days=60 * day),
             serial, n % 2 == 0, *bmds, side, vertebrae)
            for n, (patient, day, serial, bmds, side, vertebrae) in enumerate(rows)
        ],
        schema={"exam_id": pl.String, "patient_id": pl.String, "exam_date": pl.Date,
                "scanner_serial": pl.String, "on_treatment": pl.Boolean,
                **{f"{site}_bmd": pl.Float64 for site in _SITES},
                "hip_side": pl.String, "spine_vertebrae": pl.Int64},
        orient="row",
    )


@settings(max_examples=80, deadline=None)
@given(batch_rows=st.lists(_exam_row, max_size=14), history_rows=st.lists(_exam_row, max_size=8))
def test_leaving_out_single_exam_patients_changes_no_verdict(
    default: PrecisionTable, batch_rows: list, history_rows: list
) -> None:
    """`with_other_exams` (the loader's pre-filter) gives the very same verdicts, flags and
    re-judged exams as comparing every batch exam."""
    batch = _exam_level(batch_rows, 0)
    history = _exam_level(history_rows, 100)
    history = history.filter(pl.col("patient_id").is_in(batch["patient_id"].implode()))
    every = compare_serial(serial_input(batch), serial_input(history), default)
    some = compare_serial(serial_input(with_other_exams(batch, history)),
                          serial_input(history), default)
    assert some.changes.equals(every.changes)
    assert some.flags.equals(every.flags)
    assert some.rejudged.equals(every.rejudged)


# --- prior and baseline against a brute-force reference ---------------------------------


def _comparable(row: dict, other: dict) -> bool:
    """CHG-SAME-REGION read literally: same hip or a side not recorded, same vertebra
    count (blank = 4), the radius as one region."""
    if row["site"] in ("total_hip", "femoral_neck"):
        sides = (row["hip_side"], other["hip_side"])
        return None in sides or sides[0] == sides[1]
    if row["site"] == "spine":
        return (row["vertebrae"] or 4) == (other["vertebrae"] or 4)
    return True


def _verified(row: dict, other: dict) -> bool:
    hip = row["site"] in ("total_hip", "femoral_neck")
    return not hip or (row["hip_side"] is not None and other["hip_side"] is not None)


def _reference(batch: pl.DataFrame, history: pl.DataFrame) -> dict:
    """Row-by-row reading of clinical-rules §7 and the module docstrings: which (exam,
    site) is compared, per comparison, with which exam; which are flagged; which
    registry exams are judged again."""
    new = [r for r in batch.to_dicts() if r["exam_date"] and r["bmd_g_cm2"] is not None]
    batch_ids = set(batch["exam_id"].to_list())
    old = [r for r in history.to_dicts() if r["exam_date"] and r["bmd_g_cm2"] is not None
           and r["exam_id"] not in batch_ids]
    earliest: dict[str, dt.date] = {}
    for r in new:
        earliest[r["patient_id"]] = min(earliest.get(r["patient_id"], r["exam_date"]),
                                        r["exam_date"])
    later = [r for r in old if r["patient_id"] in earliest
             and r["exam_date"] > earliest[r["patient_id"]]]
    every = new + old
    out: dict = {"pairs": set(), "SCANNER_CHANGED": set(), "REGION_CHANGED": set()}
    order = lambda c: (c["exam_date"], c["exam_id"])  # noqa: E731
    for r in new + later:
        key = (r["exam_id"], r["site"])
        earlier = [c for c in every if c["patient_id"] == r["patient_id"]
                   and c["site"] == r["site"] and c["exam_date"] < r["exam_date"]]
        same = [c for c in earlier
                if r["scanner_serial"] is not None and c["scanner_serial"] == r["scanner_serial"]]
        comparable = [c for c in same if _comparable(r, c)]
        if earlier and not same:
            out["SCANNER_CHANGED"].add(key)
        elif same and not comparable:
            out["REGION_CHANGED"].add(key)
        elif comparable:
            prior, baseline = max(comparable, key=order), min(comparable, key=order)
            out["pairs"].add((*key, "previous", prior["exam_id"], _verified(r, prior)))
            if baseline is not prior:
                out["pairs"].add((*key, "baseline", baseline["exam_id"], _verified(r, baseline)))
    out["rejudged"] = sorted({r["exam_id"] for r in later})
    return out


_dense_row = st.tuples(  # two sites, BMD always there: many exams meet at a site
    st.integers(0, 11),
    st.sampled_from(["spine", "total_hip"]),
    st.sampled_from(["S1", "S2", None]),
    st.integers(500, 1500).map(lambda v: v / 1000),
    st.integers(0, 2),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.one_of(_dense_row, _row), min_size=3, max_size=40),
       cut=st.integers(0, 12))
def test_prior_and_baseline_match_a_brute_force_reference(
    default: PrecisionTable, rows: list, cut: int
) -> None:
    """Chains, same-day ties, sites missing from the last exam, scanner changes, hip
    sides (recorded, flipped, missing), vertebra counts and back-filled history: the
    sort-and-shift search agrees with looking at every earlier exam, per comparison."""
    exams = _exams(rows).with_columns(  # two patients, four exams a day: same-day ties
        pl.format("P{}", pl.col("exam_id").str.slice(1).cast(pl.Int32) % 2).alias("patient_id"),
        (pl.date(2020, 1, 1) + pl.duration(days=90 * (pl.col("exam_id").str.slice(1)
                                                     .cast(pl.Int32) // 4))).alias("exam_date"),
    )
    number = pl.col("exam_id").str.slice(1).cast(pl.Int32)
    history = exams.filter(number < cut)
    batch = exams.filter(number >= cut)
    # a back-fill: some history exams dated after batch exams of the same patient
    history = history.with_columns(
        pl.when(number % 5 == 0).then(pl.col("exam_date") + pl.duration(days=700))
        .otherwise(pl.col("exam_date")).alias("exam_date"))
    expected = _reference(batch, history)
    result = compare_serial(batch, history, default)
    assert set(result.changes.select(
        "exam_id", "site", "comparison", "prior_exam_id", "region_verified").rows()
    ) == expected["pairs"]
    assert result.changes.select("exam_id", "site", "comparison").is_duplicated().sum() == 0
    for code in ("SCANNER_CHANGED", "REGION_CHANGED"):
        flagged = result.flags.filter(pl.col("code") == code)
        assert {(e, d.split(":")[0]) for e, d in flagged.select("exam_id", "detail").rows()} == (
            expected[code]), code
    losses = result.flags.filter(pl.col("code").is_in(["SIGNIFICANT_BMD_LOSS",
                                                        "LOSS_ON_TREATMENT"]))
    sites = losses.select("exam_id", pl.col("detail").str.split(" ").list.first())
    assert sites.is_duplicated().sum() == 0  # one loss flag per exam and site
    assert result.rejudged.to_list() == expected["rejudged"]
