"""`dxa precision`: the facility's own precision from same-day repeat exams (ISCD method).

A registry holds generated studies of known true precision; the computed RMS SD and RMS
%CV must equal a brute-force numpy computation of the same formula on the same BMDs, and
lie within three sampling errors of the truth. Then the boundaries: a study is complete
at df 30 (not 29), a precision exactly at ISCD's minimum meets it (just above does not),
and only one patient's scans of one region, on one scanner, on one day form a set.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from exam_rows import make_row
from precision_registry import (
    NO_SITE,
    STUDY_DATE,
    TRUE_CV,
    brute_force,
    build_registry,
    draw_study,
    exact_pairs,
    study_rows,
)

from pipelines import app as application
from pipelines.readers.precision_study import ISCD_MINIMUM_PCT, with_verdicts
from transforms.precision import LSC_FACTOR

SEED = 20261206


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Scanner A: 30 patients x 2 same-day scans; scanner B: 15 patients x 3."""
    rng = np.random.default_rng(SEED)
    drawn = {"A": draw_study(rng, 30, 2), "B": draw_study(rng, 15, 3)}
    rows = [row for serial, bmds in drawn.items() for row in study_rows(serial, bmds)]
    return build_registry(tmp_path_factory.mktemp("generated"), rows), drawn


def study_of(db: Path) -> pl.DataFrame:
    return application.precision(db).study.rows


def test_rms_precision_is_the_iscd_formula_and_near_the_truth(generated) -> None:
    db, drawn = generated
    rows = study_of(db)
    assert rows.select("scanner_serial", "site").rows() == [
        ("A", "spine"), ("A", "femoral_neck"), ("A", "total_hip"),
        ("B", "spine"), ("B", "femoral_neck"), ("B", "total_hip")]
    for row in rows.iter_rows(named=True):
        bmds = drawn[row["scanner_serial"]][row["site"]]
        patients, scans = bmds.shape
        assert (row["patients"], row["scans"], row["df"]) == (
            patients, patients * scans, patients * (scans - 1))
        rms_sd, rms_cv = brute_force(bmds)
        assert row["rms_sd_g_cm2"] == pytest.approx(rms_sd, rel=1e-9)
        assert row["rms_cv_pct"] == pytest.approx(rms_cv, rel=1e-9)
        assert row["lsc_g_cm2"] == pytest.approx(LSC_FACTOR * rms_sd, rel=1e-9)
        assert row["lsc_pct"] == pytest.approx(LSC_FACTOR * rms_cv, rel=1e-9)
        # the relative standard error of an RMS SD with df degrees of freedom
        truth = TRUE_CV[row["site"]]
        standard_error = truth / math.sqrt(2 * row["df"])
        assert abs(row["rms_cv_pct"] - truth) < 3 * standard_error
        assert row["iscd_minimum_pct"] == ISCD_MINIMUM_PCT[row["site"]]
        assert row["meets_iscd"] is True and row["complete"] is True


def test_a_study_is_complete_at_30_degrees_of_freedom_not_29(tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED + 1)
    rows = [*study_rows("C29", draw_study(rng, 29, 2)),
            *study_rows("C30", draw_study(rng, 30, 2))]
    study = study_of(build_registry(tmp_path, rows))
    verdicts = study.group_by("scanner_serial").agg(pl.col("df").unique(),
                                                    pl.col("complete").unique())
    assert sorted(verdicts.rows()) == [("C29", [29], [False]), ("C30", [30], [True])]


def test_a_precision_exactly_at_the_iscd_minimum_meets_it(tmp_path: Path) -> None:
    above = {site: pct + 0.001 for site, pct in ISCD_MINIMUM_PCT.items()}
    rows = [*exact_pairs("AT", ISCD_MINIMUM_PCT), *exact_pairs("ABOVE", above),
            *exact_pairs("RADIUS", {"radius_33": 0.8}, radius_33_t=-1.0)]
    study = study_of(build_registry(tmp_path, rows))
    found = {(r["scanner_serial"], r["site"]): r for r in study.iter_rows(named=True)}
    for site, minimum in ISCD_MINIMUM_PCT.items():
        assert found["AT", site]["rms_cv_pct"] == pytest.approx(minimum, rel=1e-12)
        assert found["AT", site]["meets_iscd"] is True
        assert found["ABOVE", site]["rms_cv_pct"] == pytest.approx(minimum + 0.001, rel=1e-12)
        assert found["ABOVE", site]["meets_iscd"] is False
    radius = found["RADIUS", "radius_33"]  # ISCD gives the radius no minimum
    assert radius["iscd_minimum_pct"] is None and radius["meets_iscd"] is None


def test_floating_point_noise_at_the_minimum_still_meets_it() -> None:
    pooled = pl.DataFrame({"site": ["spine"] * 3, "df": [29, 30, 30],
                           "rms_cv_pct": [1.9000000000000004, 1.8999999999999997, 1.900001]})
    judged = with_verdicts(pooled)
    assert judged["meets_iscd"].to_list() == [True, True, False]
    assert judged["complete"].to_list() == [False, True, True]


def pair(serial: str | None, patient: str, bmds: tuple[float, float], *,
         dates: tuple[str, str] = (STUDY_DATE, STUDY_DATE),
         serials: tuple[str | None, str | None] | None = None, visit: str = "",
         **per_exam: tuple[object, object]) -> list[dict[str, str]]:
    """Two exams of one patient: a hip (both hip sites) unless `spine` is asked for."""
    rows = []
    for k in range(2):
        sites = ({"spine_bmd": bmds[k]} if "spine_vertebrae" in per_exam
                 else {"total_hip_bmd": bmds[k], "femoral_neck_bmd": bmds[k] - 0.1})
        rows.append(make_row(**{
            **NO_SITE, **sites, **{name: values[k] for name, values in per_exam.items()},
            "exam_id": f"SECRET-{patient}{visit}-{k}", "patient_id": f"SECRET-{patient}",
            "exam_date": dates[k], "scanner_serial": (serials or (serial, serial))[k]}))
    return rows


def test_only_one_region_on_one_scanner_on_one_day_pairs(tmp_path: Path) -> None:
    rows = [
        *pair("SAME-SIDE", "P1", (0.90, 0.92), hip_side=("left", "left")),
        *pair("SIDES", "P2", (0.90, 0.92), hip_side=("left", "right")),
        *pair("BOTH-BLANK", "P3", (0.90, 0.92), hip_side=(None, None)),
        *pair("ONE-BLANK", "P4", (0.90, 0.92), hip_side=(None, "left")),
        *pair("VERTEBRAE", "P5", (1.00, 1.02), spine_vertebrae=(4, 3)),
        *pair("FOUR-AND-BLANK", "P6", (1.00, 1.02), spine_vertebrae=(4, None)),
        *pair(None, "P7", (0.90, 0.92), hip_side=("left", "left")),
        *pair("  ", "P8", (0.90, 0.92), hip_side=("left", "left")),
        *pair("DAYS", "P9", (0.90, 0.92), hip_side=("left", "left"),
              dates=(STUDY_DATE, "2025-03-05")),
        *pair(None, "P10", (0.90, 0.92), hip_side=("left", "left"),
              serials=("TWO-A", "TWO-B")),
        # one patient's same-day pairs on two days: one patient, two sets, df 2
        *pair("TWICE", "P11", (0.90, 0.92), hip_side=("left", "left")),
        *pair("TWICE", "P11", (0.90, 0.92), hip_side=("left", "left"), visit="b",
              dates=("2025-09-01", "2025-09-01")),
    ]
    db = build_registry(tmp_path, rows)
    with duckdb.connect(str(db), read_only=True) as con:  # every exam loaded, none set aside
        assert con.execute("SELECT count(*) FROM exams").fetchone() == (len(rows),)
    study = study_of(db)
    assert study.select("scanner_serial", "site", "patients", "scans", "df").rows() == [
        ("BOTH-BLANK", "femoral_neck", 1, 2, 1), ("BOTH-BLANK", "total_hip", 1, 2, 1),
        ("FOUR-AND-BLANK", "spine", 1, 2, 1),
        ("SAME-SIDE", "femoral_neck", 1, 2, 1), ("SAME-SIDE", "total_hip", 1, 2, 1),
        ("TWICE", "femoral_neck", 1, 4, 2), ("TWICE", "total_hip", 1, 4, 2),
    ]
    sd = 0.02 / math.sqrt(2)  # every set: two scans 0.02 apart
    assert study["rms_sd_g_cm2"].to_list() == pytest.approx([sd] * 7, rel=1e-9)
    assert study["complete"].to_list() == [False] * 7
