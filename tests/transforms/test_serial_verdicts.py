"""Serial exam comparison (clinical-rules.md §7): the verdict of one change against the
LSC, its flags and the LSC's source, and the same-scanner rule (CHG-SAME-SCANNER,
CHG-SCANNER-CHANGED).

Values are asserted exactly: pct_change and lsc_pct are rounded to 6 decimals by design,
so a change exactly at the LSC is reproducibly "not significant".
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from precision_files import write_precision
from serial_frames import frame, sites

from transforms.precision import PrecisionTable, load_precision
from transforms.serial import CHANGE_SCHEMA, SerialResult, compare_serial

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


def studied_and_other_scanner(precision: PrecisionTable, *studied: str) -> SerialResult:
    """Patient P1 scanned at the `studied` sites on HZ-100 (a scanner with a precision
    study of its own), P2 at the spine on OTHER; every BMD -4 % in a year (1.0 to 0.96)."""
    before, after = dict.fromkeys(studied, 1.0), dict.fromkeys(studied, 0.96)
    history = frame(*sites("A1", "P1", "2022-01-01", "HZ-100", False, **before),
                    ("B1", "P2", "2022-01-01", "OTHER", False, "spine", 1.0))
    batch = frame(*sites("A2", "P1", "2023-01-01", "HZ-100", False, **after),
                  ("B2", "P2", "2023-01-01", "OTHER", False, "spine", 0.96))
    return compare_serial(batch, history, precision)


def test_per_scanner_precision_override(tmp_path: Path) -> None:
    text = '[default]\nspine = 1.9\n[scanner."HZ-100"]\nspine = 1.2\n'
    table = load_precision(write_precision(tmp_path, text))
    result = studied_and_other_scanner(table, "spine")
    assert result.changes.select("exam_id", "pct_change", "lsc_pct", "significant").rows() == [
        ("A2", -4.0, 3.324, True),
        ("B2", -4.0, 5.263, False),
    ]
    assert result.flags.to_dicts() == [
        {"exam_id": "A2", "code": "SIGNIFICANT_BMD_LOSS", "severity": "warning",
         "detail": "spine -4.0% vs previous (LSC 3.3%)", "ruleset": None}
    ]


def test_lsc_source_precision_study_or_default(tmp_path: Path) -> None:
    text = '[default]\nspine = 1.9\ntotal_hip = 1.8\n[scanner."HZ-100"]\nspine = 1.2\n'
    table = load_precision(write_precision(tmp_path, text))
    result = studied_and_other_scanner(table, "spine", "total_hip", "radius_33")
    assert result.changes.select("exam_id", "site", "lsc_pct", "lsc_source").rows() == [
        ("A2", "radius_33", None, None),  # no precision known: no LSC, no source
        ("A2", "spine", 3.324, "precision_study"),  # the scanner's own study
        ("A2", "total_hip", 4.986, "default"),  # the scanner's study has no total hip
        ("B2", "spine", 5.263, "default"),  # the file's registry-wide default
    ]
    shipped = studied_and_other_scanner(load_precision(), "spine", "total_hip",
                                        "radius_33").changes
    assert set(shipped["lsc_source"].drop_nulls()) == {"default"}


# --- scanners (CHG-SAME-SCANNER, CHG-SCANNER-CHANGED) ---------------------------------


def test_scanner_change_flags_and_gives_no_change_row(default: PrecisionTable) -> None:
    history = frame(*sites("E1", "P1", "2022-01-01", "S1", False, spine=1.0, total_hip=1.0))
    batch = frame(*sites("E2", "P1", "2023-01-01", "S2", True, spine=0.5, total_hip=0.5))
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
