"""Situations of rules version 3 that the generated exams do not produce on their own.

The base generator makes each exam a clean, complete record. Real exports are not: the
same patient's forearm is exported as a row of its own beside the hip scan of the same
day; a fracture recorded in one year's export is blank (or "no") in the next; an exam
arrives with BMD only; FRAX sits in the 3-5 % band the version-3 threshold moved. This
step adds those to the typed exams, seeded and vectorized, so that the sample shows
every history rule (clinical-rules section 7a), TX-FRAX-HIGH at 3 % and TSCORE-FROM-BMD
at work. The situations' counts are in `samplegen.situations`.
"""

from __future__ import annotations

import polars as pl

from samplegen._rng import Rng

#: Shares of the exams each situation is drawn for (of those it can apply to).
SAME_DAY_FOREARM = 0.04
FRACTURE_BLANK_LATER = 0.5
FRACTURE_NO_LATER = 0.1
FRAX_HIP_3_TO_5 = 0.2
BMD_ONLY_HOLOGIC = 0.006
BMD_ONLY_NO_MANUFACTURER = 0.004

SCORES = [f"{site}_{s}" for site in ("spine", "femoral_neck", "total_hip", "radius_33")
          for s in ("t", "z")]
#: The risk questionnaire: blank on a forearm row exported on its own.
RISK = ("prior_fragility_fracture", "prior_fracture_sites", "vertebral_fracture",
        "glucocorticoid_mg_day", "glucocorticoid_months", "parent_hip_fracture",
        "parent_hip_fracture_age", "height_loss_cm", "current_smoker", "alcohol_units_day",
        "kyphosis", "back_pain", "frax_major_pct", "frax_hip_pct")


def _uniform(seed: int, name: str) -> pl.Expr:
    """A uniform draw per row, keyed by the exam number (`EX<seed>-<number>`): stable
    whatever the row order, and free of `hash()` (not stable across polars versions)."""
    number = pl.col("exam_id").str.extract(r"(\d+)$").cast(pl.UInt64)
    return Rng(seed, number).uniform(name)


def _forearm_rows(exams: pl.DataFrame, seed: int) -> pl.DataFrame:
    """A forearm-only row on the same day as some central scans: the radius's own row."""
    central = pl.min_horizontal("spine_t", "femoral_neck_t", "total_hip_t")
    chosen = exams.filter(central.is_not_null() & pl.col("radius_33_t").is_null()
                          & (_uniform(seed, "same_day_forearm") < SAME_DAY_FOREARM))
    t = pl.col("_forearm_t")
    return chosen.with_columns(
        _forearm_t=(central + (_uniform(seed, "forearm_t") - 0.5)).round(1),
    ).with_columns(
        *(pl.lit(None, dtype=chosen.schema[c]).alias(c)
          for c in (*SCORES, *RISK, "spine_bmd", "femoral_neck_bmd", "total_hip_bmd",
                    "hip_side", "spine_vertebrae")),
    ).with_columns(
        exam_id=pl.col("exam_id") + "F",
        radius_33_t=t.alias("radius_33_t"),
        radius_33_z=(t + 1.0).alias("radius_33_z"),
        radius_33_bmd=(0.70 + 0.06 * t).round(3),
    ).drop("_forearm_t")


def _fracture_later(seed: int) -> list[pl.Expr]:
    """A later exam of a patient with a recorded fracture: often blank, sometimes "no"."""
    ordered = ("exam_date", "exam_id")
    earlier = (pl.col("prior_fragility_fracture").fill_null(False).cum_max()
               .shift(1).over("patient_id", order_by=ordered).fill_null(False))
    earlier_vertebral = (pl.col("vertebral_fracture").fill_null(False).cum_max()
                         .shift(1).over("patient_id", order_by=ordered).fill_null(False))
    u = _uniform(seed, "fracture_later")
    blank, no = u < FRACTURE_BLANK_LATER, u > 1 - FRACTURE_NO_LATER
    return [
        pl.when(earlier & blank).then(None).when(earlier & no).then(False)
        .otherwise(pl.col("prior_fragility_fracture")).alias("prior_fragility_fracture"),
        pl.when(earlier & (blank | no)).then(None).otherwise(pl.col("prior_fracture_sites"))
        .alias("prior_fracture_sites"),
        pl.when(earlier_vertebral & blank).then(None)
        .otherwise(pl.col("vertebral_fracture")).alias("vertebral_fracture"),
    ]


def _frax_and_bmd_only(seed: int) -> list[pl.Expr]:
    """FRAX hip moved into 3-5 % for some low values; some exams reduced to BMD only
    (Hologic: T computed; no manufacturer: nothing computed, the row is quarantined)."""
    hip = pl.col("frax_hip_pct")
    moved = (hip >= 1) & (hip < 3) & (_uniform(seed, "frax_hip") < FRAX_HIP_3_TO_5)
    u = _uniform(seed, "bmd_only")
    has_bmd = pl.col("femoral_neck_bmd").is_not_null() | pl.col("spine_bmd").is_not_null()
    hologic = pl.col("scanner_manufacturer") == "Hologic"
    bmd_only = has_bmd & hologic & (u < BMD_ONLY_HOLOGIC + BMD_ONLY_NO_MANUFACTURER)
    no_maker = bmd_only & (u < BMD_ONLY_NO_MANUFACTURER)
    return [
        pl.when(moved).then((3 + 2 * _uniform(seed, "frax_hip_value")).round(1))
        .otherwise(hip).alias("frax_hip_pct"),
        *(pl.when(bmd_only).then(None).otherwise(pl.col(c)).alias(c) for c in SCORES),
        pl.when(no_maker).then(None).otherwise(pl.col("scanner_manufacturer"))
        .alias("scanner_manufacturer"),
    ]


def add_v3_situations(exams: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The typed exams with the version-3 situations added (same columns, more rows)."""
    changed = exams.with_columns(_fracture_later(seed)).with_columns(_frax_and_bmd_only(seed))
    return pl.concat([changed, _forearm_rows(exams, seed)]).sort("exam_date", "exam_id")
