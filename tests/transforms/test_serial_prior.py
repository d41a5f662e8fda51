"""Serial exam comparison (clinical-rules.md §7): the prior exam and the baseline
(CHG-PRIOR, CHG-BASELINE, CHG-LOSS), also across an exam on another scanner, exams that
arrive out of order (back-fills), ties and the inputs' edge cases."""

from __future__ import annotations

import polars as pl
import pytest
from serial_frames import EMPTY, frame, sites

from transforms.precision import PrecisionTable
from transforms.serial import FLAG_SCHEMA, compare_serial

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
        *sites("H1", "P1", "2019-01-01", "S1", False, total_hip=1.0, spine=1.1),
        *sites("H2", "P1", "2021-01-01", "S1", False, spine=1.0,
               total_hip=None),  # measured, no BMD
    )
    batch = frame(*sites("E1", "P1", "2023-01-01", "S1", False, spine=1.0, total_hip=0.9))
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
