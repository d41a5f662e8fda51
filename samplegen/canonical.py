"""Synthetic canonical DXA exams (registry contract §1), vectorised with polars.

`generate_exams` returns a clean, typed frame (no bad rows) with exactly the contract
columns in contract order; vendor emitters (Hologic APEX tables, GE Lunar DICOM) and the
CSV writer all start from it. `to_text` renders it the way a canonical CSV export is
written (ISO dates, `.` decimals, mixed boolean spellings, blanks for "not recorded").

How the data are built (all draws are keyed counter-based random numbers, see `_rng`):

* Patients ``P<seed>-<n>``: ~80% women; age at the first exam mostly 40-95 (mean 64),
  6% 20-39, 1% 15-19. 70% have one exam, 20% two, 10% three, 1-3 years apart; later
  exams are on the patient's usual scanner 80% of the time, otherwise on another one.
* Bone density: a patient latent L ~ N(0, 1); first-exam T-score per site =
  mean(age, sex) + site offset + 0.85 L + 0.5 noise (SD ~1.0). Women's mean T is
  -0.5 at 45 and -2.5 at 85; men lose less. BMD is derived from T on a Hologic-equivalent
  reference (spine 1.047 + 0.11 T, total hip 0.94 + 0.12 T, femoral neck 0.858 + 0.12 T,
  radius 0.70 + 0.06 T); GE Lunar devices report that BMD scaled by the vendor factor
  (`LUNAR_SCALE`: spine x1.12, total hip x1.06, femoral neck x1.10) with T unchanged, so
  T stays consistent with BMD on each vendor's own reference, and a vendor change shows a
  BMD jump (why serial comparison needs the same scanner). Later exams multiply BMD by a
  per-interval change of -4%..+2% (treated: -1%..+4%), 15% of intervals change beyond
  the LSC (-10..-5.5%, or +5..+8% on treatment); their T is recomputed from BMD.
  Z = T - mean(age, sex) - site offset + small noise.
* Sites: spine in 90% of exams (4 vertebrae mostly, some 3/2, rare 1), hips in 95%
  (femoral neck always with them, total hip 98% of those), radius 33% in ~12% (60% when
  spine or hip is missing); every exam has at least one site.
* Risk questionnaire missing in 10% of exams (all risk fields blank) plus 3% blanks per
  field; FRAX blank in ~15% (and outside ages 40-90).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from samplegen._rng import Rng
from transforms.columns import CANONICAL_COLUMNS

DEFAULT_START = date(2019, 1, 1)
DEFAULT_END = date(2025, 12, 31)


@dataclass(frozen=True)
class Scanner:
    manufacturer: str
    model: str
    serial: str
    weight: float  # share of patients whose usual scanner this is


#: The synthetic fleet: a handful of devices of both vendors.
SCANNERS: tuple[Scanner, ...] = (
    Scanner("Hologic", "Horizon A", "301457M", 0.24),
    Scanner("Hologic", "Horizon A", "302118M", 0.14),
    Scanner("Hologic", "Discovery W", "87345", 0.14),
    Scanner("GE Lunar", "iDXA", "200871", 0.20),
    Scanner("GE Lunar", "iDXA", "201532", 0.12),
    Scanner("GE Lunar", "Prodigy", "103344", 0.16),
)

SITES: tuple[str, ...] = ("spine", "total_hip", "femoral_neck", "radius_33")

#: Hologic-equivalent young-adult reference per site: BMD = a + b * T (g/cm2).
REFERENCE: dict[str, tuple[float, float]] = {
    "spine": (1.047, 0.11),
    "total_hip": (0.94, 0.12),
    "femoral_neck": (0.858, 0.12),
    "radius_33": (0.70, 0.06),
}

#: GE Lunar BMD = Hologic-equivalent BMD x factor (same T-score).
LUNAR_SCALE: dict[str, float] = {
    "spine": 1.12,
    "total_hip": 1.06,
    "femoral_neck": 1.10,
    "radius_33": 1.0,
}

#: Decimals each numeric column is rounded to (0 = whole numbers).
DECIMALS: dict[str, int] = {
    "age_years": 0,
    "height_cm": 1,
    "weight_kg": 1,
    "bmi": 1,
    "glucocorticoid_mg_day": 1,
    "glucocorticoid_months": 0,
    "parent_hip_fracture_age": 0,
    "height_loss_cm": 1,
    "alcohol_units_day": 1,
    "frax_major_pct": 1,
    "frax_hip_pct": 1,
    **{f"{s}_bmd": 3 for s in SITES},
    **{f"{s}_t": 1 for s in SITES},
    **{f"{s}_z": 1 for s in SITES},
}

_POLARS_TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "number": pl.Float64(),
    "integer": pl.Int64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
}

#: The typed schema of `generate_exams` output, in contract order.
SCHEMA: dict[str, pl.DataType] = {
    name: _POLARS_TYPES[kind] for name, kind in CANONICAL_COLUMNS.items()
}

# Exams per patient: 1, 2 or 3 with these probabilities (30% have repeats).
_VISIT_WEIGHTS = (0.70, 0.20, 0.10)
_MEAN_VISITS = sum((i + 1) * w for i, w in enumerate(_VISIT_WEIGHTS))


def _t_mean(age: pl.Expr, female: pl.Expr) -> pl.Expr:
    """Mean T-score by age and sex (before site offsets)."""
    women = (
        pl.when(age < 20)
        .then(-0.5)
        .when(age <= 45)
        .then(-0.3 - 0.2 * (age - 20) / 25)
        .otherwise(-0.5 - 2.0 * (age - 45) / 40)
    )
    men = pl.when(age <= 50).then(-0.2).otherwise(-0.2 - 1.3 * (age - 50) / 35)
    return pl.when(female).then(women).otherwise(men)


def _site_offset(site: str, age: pl.Expr) -> pl.Expr:
    """Site-specific shift of the mean T (degenerative spine gain with age, etc.)."""
    if site == "spine":
        return 0.1 + ((age - 65).clip(0, 25) * 0.015)
    if site == "femoral_neck":
        return pl.lit(-0.2)
    if site == "radius_33":
        return pl.lit(-0.15)
    return pl.lit(0.0)


def _whole_years(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """Completed years between two dates (age at a date)."""

    def month_day(d: pl.Expr) -> pl.Expr:  # dt.month()/dt.day() are Int8: widen first
        return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

    before_birthday = month_day(later) < month_day(earlier)
    return (
        later.dt.year().cast(pl.Int32)
        - earlier.dt.year().cast(pl.Int32)
        - before_birthday.cast(pl.Int32)
    )


def _visit_plan(seed: int, p_start: int, p_stop: int) -> pl.DataFrame:
    rng = Rng(seed, "p")
    return pl.DataFrame(
        {"p": pl.int_range(p_start, p_stop, dtype=pl.UInt64, eager=True)}
    ).with_columns(n_visits=rng.choice("n_visits", list(_VISIT_WEIGHTS)) + 1)


def _patient_plan(
    seed: int,
    p_start: int,
    p_stop: int,
    exams_before: int,
    want: int,
    remaining: int,
) -> pl.DataFrame:
    """One row per patient (p, n_visits, n_eff, first_exam_no) for the leading patients of
    [p_start, p_stop) whose first exam falls within the first ``want`` exams of the chunk.

    ``exams_before`` exams precede patient ``p_start``; only ``remaining`` more may be made
    in all, so the patient that crosses the total keeps only its first ``n_eff`` visits.
    """
    plan = _visit_plan(seed, p_start, p_stop).with_columns(
        before=pl.col("n_visits").cum_sum() - pl.col("n_visits")
    )
    return plan.filter(pl.col("before") < want).select(
        "p",
        "n_visits",
        n_eff=pl.min_horizontal("n_visits", pl.lit(remaining) - pl.col("before")),
        first_exam_no=pl.col("before") + exams_before,
    )


def _build(plan: pl.DataFrame, seed: int, start: date, end: date) -> pl.DataFrame:
    """All canonical columns for the exams of the patients in ``plan``."""
    pr = Rng(seed, "p")  # patient-level draws
    er = Rng(seed, pl.col("p") * 4 + pl.col("v").cast(pl.UInt64))  # exam-level draws
    range_days = (end - start).days
    n_scanners = len(SCANNERS)
    female = pl.col("_female")
    v = pl.col("v")

    lf = plan.lazy()

    # --- patient level -----------------------------------------------------------
    age_bucket = pr.choice("age_bucket", [0.01, 0.06, 0.93])
    main_age = pr.normal("age_main", 64.0, 10.5)
    main_age = pl.when(main_age < 40).then(80 - main_age).otherwise(main_age)
    main_age = pl.when(main_age > 95).then(190 - main_age).otherwise(main_age).clip(40, 97)
    lf = lf.with_columns(
        _female=pr.uniform("sex") < 0.8,
        _age0=pl.when(age_bucket == 0)
        .then(pr.uniform("age_teen", 15.3, 20.0))
        .when(age_bucket == 1)
        .then(pr.uniform("age_young", 20.0, 40.0))
        .otherwise(main_age),
        _gap1=pr.uniform("gap1", 365.0, 1096.0).floor(),
        _gap2=pr.uniform("gap2", 365.0, 1096.0).floor(),
        _latent=pr.normal("latent"),
        _home=pr.choice("home_scanner", [s.weight for s in SCANNERS]),
        _alt_step=pr.integers("alt_scanner", 1, n_scanners - 1),
        _hip_left=pr.uniform("hip_side") < 0.7,
        _u_treat=pr.uniform("treat"),
        _u_fx=pr.uniform("fragility_fx"),
        _u_vfx=pr.uniform("vertebral_fx"),
        _parent=pr.uniform("parent_hip") < 0.12,
        _parent_age=pr.integers("parent_age", 55, 90).cast(pl.Float64),
        _parent_age_known=pr.uniform("parent_age_known") < 0.8,
        _gc_user=pr.uniform("gc_user") < 0.05,
        _gc_dose=pr.choice("gc_dose", [0.15, 0.3, 0.2, 0.15, 0.1, 0.1]),
        _gc_months=pr.integers("gc_months", 1, 36).cast(pl.Float64),
        _u_smoker=pr.uniform("smoker"),
        _drinker=pr.choice("alcohol_kind", [0.55, 0.40, 0.05]),
        _alcohol=pr.uniform("alcohol_amount"),
        _kyphosis=pr.uniform("kyphosis") < 0.08,
        _u_back=pr.uniform("back_pain"),
        _height=pl.when(pr.uniform("sex") < 0.8)
        .then(pr.normal("height", 161.5, 6.5))
        .otherwise(pr.normal("height", 175.5, 7.0))
        .clip(150.0, 185.0),
        _weight=pl.when(pr.uniform("sex") < 0.8)
        .then(pr.normal("weight", 68.0, 12.0))
        .otherwise(pr.normal("weight", 82.0, 13.0)),
    )
    # Dates: the first exam leaves room for the later ones inside [start, end].
    span = pl.col("_gap1") * (pl.col("n_visits") >= 2) + pl.col("_gap2") * (pl.col("n_visits") >= 3)
    scale = pl.when(span > range_days).then(range_days / span).otherwise(1.0)
    lf = lf.with_columns(_span_scale=scale, _span=span)
    lf = lf.with_columns(
        _first_offset=(
            pr.uniform("first_date") * (range_days - pl.col("_span") * pl.col("_span_scale") + 1)
        ).floor(),
        _tlev=_t_mean(pl.col("_age0"), female) + 0.85 * pl.col("_latent"),
    )

    # Treatment and fractures are monotone over visits (once yes, stays yes): one uniform
    # per patient against a threshold that grows with the visit number.
    neg_t = (-pl.col("_tlev")).clip(-1.0, 5.0)

    def treated_at(visit: pl.Expr | int) -> pl.Expr:
        return pl.col("_u_treat") < (0.05 + 0.09 * neg_t + 0.07 * visit).clip(0.03, 0.85)

    # First-exam T per site: patient latent + site offset + site noise (SD ~1.0 in all).
    lf = lf.with_columns(
        [treated_at(1).alias("_treated1"), treated_at(2).alias("_treated2")]
        + [
            (
                pl.col("_tlev")
                + _site_offset(site, pl.col("_age0"))
                + 0.5 * pr.normal(f"site_noise_{site}")
            )
            .clip(-5.5, 4.5)
            .alias(f"_t0_{site}")
            for site in SITES
        ]
    )

    # Per-interval BMD change shared by the sites (plus a little site noise).
    def interval_change(step: int) -> pl.Expr:
        big = pr.uniform(f"big_change{step}") < 0.15
        treated = pl.col(f"_treated{step}")  # on treatment by the end of the interval
        small = (
            pl.when(treated)
            .then(pr.uniform(f"chg{step}", -0.01, 0.04))
            .otherwise(pr.uniform(f"chg{step}", -0.04, 0.02))
        )
        large = (
            pl.when(treated)
            .then(pr.uniform(f"bigchg{step}", 0.05, 0.08))
            .otherwise(pr.uniform(f"bigchg{step}", -0.10, -0.055))
        )
        return pl.when(big).then(large).otherwise(small)

    lf = lf.with_columns(_chg1=interval_change(1), _chg2=interval_change(2))
    lf = lf.with_columns(
        [
            (1 + pl.col("_chg1") + pr.normal(f"site_chg1_{site}", 0.0, 0.006)).alias(f"_f1_{site}")
            for site in SITES
        ]
        + [
            (1 + pl.col("_chg2") + pr.normal(f"site_chg2_{site}", 0.0, 0.006)).alias(f"_f2_{site}")
            for site in SITES
        ]
    )

    # --- one row per exam --------------------------------------------------------------
    lf = (
        lf.with_columns(v=pl.int_ranges(0, "n_eff", dtype=pl.Int64))
        .explode("v")
        .with_columns(exam_no=pl.col("first_exam_no") + pl.col("v"))
    )
    visit_offset = (
        (
            pl.col("_first_offset")
            + ((v >= 1) * pl.col("_gap1") + (v >= 2) * pl.col("_gap2")) * pl.col("_span_scale")
        )
        .floor()
        .clip(0, range_days)
    )
    birth_offset = pl.col("_first_offset") - (pl.col("_age0") * 365.25).round(0)
    lf = lf.with_columns(
        exam_date=pl.lit(start) + pl.duration(days=visit_offset.cast(pl.Int64)),
        birth_date=pl.lit(start) + pl.duration(days=birth_offset.cast(pl.Int64)),
    )
    lf = lf.with_columns(_age=_whole_years(pl.col("exam_date"), pl.col("birth_date")))

    # --- scanner -------------------------------------------------------------------
    scanner = (
        pl.when((v == 0) | (er.uniform("same_scanner") < 0.8))
        .then(pl.col("_home"))
        .otherwise((pl.col("_home") + pl.col("_alt_step")) % n_scanners)
    )
    lf = lf.with_columns(_scanner=scanner)
    lf = lf.with_columns(
        scanner_manufacturer=pl.col("_scanner").replace_strict(
            {i: s.manufacturer for i, s in enumerate(SCANNERS)}, return_dtype=pl.String
        ),
        scanner_model=pl.col("_scanner").replace_strict(
            {i: s.model for i, s in enumerate(SCANNERS)}, return_dtype=pl.String
        ),
        scanner_serial=pl.col("_scanner").replace_strict(
            {i: s.serial for i, s in enumerate(SCANNERS)}, return_dtype=pl.String
        ),
    )

    lf = lf.with_columns(
        _treated=treated_at(v),
        _fx=pl.col("_u_fx") < (0.07 + 0.06 * neg_t + 0.02 * v).clip(0.03, 0.5),
        _vfx=pl.col("_u_vfx") < (0.02 + 0.022 * neg_t + 0.01 * v).clip(0.01, 0.3),
    )

    # --- bone density per site ------------------------------------------------------
    lunar = pl.col("scanner_manufacturer") == "GE Lunar"
    factor = {
        site: pl.when(v == 0)
        .then(1.0)
        .when(v == 1)
        .then(pl.col(f"_f1_{site}"))
        .otherwise(pl.col(f"_f1_{site}") * pl.col(f"_f2_{site}"))
        for site in SITES
    }
    lf = lf.with_columns(
        [
            ((REFERENCE[site][0] + REFERENCE[site][1] * pl.col(f"_t0_{site}")) * factor[site])
            .clip(0.2, None)
            .alias(f"_{site}_bmd_h")  # Hologic-equivalent g/cm2
            for site in SITES
        ]
        + [_t_mean(pl.col("_age").cast(pl.Float64), female).alias("_t_mean_now")]
    )
    site_cols: list[pl.Expr] = []
    for site in SITES:
        a, b = REFERENCE[site]
        bmd_h = pl.col(f"_{site}_bmd_h")
        t = (bmd_h - a) / b
        bmd = pl.when(lunar).then(bmd_h * LUNAR_SCALE[site]).otherwise(bmd_h)
        z = (
            t
            - pl.col("_t_mean_now")
            - _site_offset(site, pl.col("_age").cast(pl.Float64))
            + er.normal(f"z_noise_{site}", -0.1, 0.15)
        )
        site_cols += [
            bmd.round(3).alias(f"_{site}_bmd"),
            (t.round(1) + 0.0).alias(f"_{site}_t"),
            (z.round(1) + 0.0).alias(f"_{site}_z"),
        ]
    lf = lf.with_columns(site_cols)

    # Which sites the exam has.
    spine_on = er.uniform("spine_on") < 0.90
    hip_on = er.uniform("hip_on") < 0.95
    lf = lf.with_columns(_spine_on=spine_on, _hip_on=hip_on)
    radius_p = pl.when(pl.col("_spine_on") & pl.col("_hip_on")).then(0.12).otherwise(0.6)
    lf = lf.with_columns(_radius_on=er.uniform("radius_on") < radius_p)
    lf = lf.with_columns(
        _hip_on=pl.col("_hip_on") | ~(pl.col("_spine_on") | pl.col("_radius_on")),
        _total_hip_on=er.uniform("total_hip_on") < 0.98,
    )
    present = {
        "spine": pl.col("_spine_on"),
        "total_hip": pl.col("_hip_on") & pl.col("_total_hip_on"),
        "femoral_neck": pl.col("_hip_on"),
        "radius_33": pl.col("_radius_on"),
    }
    out: list[pl.Expr] = []
    for site in SITES:
        on = present[site]
        z_on = on & (er.uniform(f"z_missing_{site}") >= 0.02)
        out += [
            pl.when(on).then(pl.col(f"_{site}_bmd")).alias(f"{site}_bmd"),
            pl.when(on).then(pl.col(f"_{site}_t")).alias(f"{site}_t"),
            pl.when(z_on).then(pl.col(f"_{site}_z")).alias(f"{site}_z"),
        ]
    vertebrae = pl.lit(4, dtype=pl.Int64) - er.choice("vertebrae", [0.85, 0.10, 0.04, 0.01])
    out.append(pl.when(pl.col("_spine_on")).then(vertebrae).alias("spine_vertebrae"))
    out.append(
        pl.when(pl.col("_hip_on"))
        .then(pl.when(pl.col("_hip_left")).then(pl.lit("left")).otherwise(pl.lit("right")))
        .alias("hip_side")
    )
    lf = lf.with_columns(out)

    # --- identity, age, menopause, body size -----------------------------------------
    age_f = pl.col("_age").cast(pl.Float64)
    has = er.choice("age_fields", [0.08, 0.08, 0.84])  # 0 age only, 1 birth only, 2 both
    u_meno = er.uniform("menopause")
    meno = (
        pl.when(age_f < 45)
        .then(
            pl.when(u_meno < 0.85)
            .then(pl.lit("pre"))
            .when(u_meno < 0.90)
            .then(pl.lit("peri"))
            .when(u_meno < 0.95)
            .then(pl.lit("unknown"))
        )
        .when(age_f < 55)
        .then(
            pl.when(u_meno < 0.20)
            .then(pl.lit("pre"))
            .when(u_meno < 0.55)
            .then(pl.lit("peri"))
            .when(u_meno < 0.90)
            .then(pl.lit("post"))
            .when(u_meno < 0.95)
            .then(pl.lit("unknown"))
        )
        .otherwise(
            pl.when(u_meno < 0.88).then(pl.lit("post")).when(u_meno < 0.93).then(pl.lit("unknown"))
        )
    )
    height = (pl.col("_height") - (age_f - 60).clip(0, 40) * 0.08).round(1)
    weight = (pl.col("_weight") + er.normal("weight_drift", 0.0, 1.5)).clip(45.0, 110.0).round(1)
    lf = lf.with_columns(
        exam_id=pl.format("EX{}-{}", pl.lit(seed), pl.col("exam_no").cast(pl.String).str.zfill(9)),
        patient_id=pl.format("P{}-{}", pl.lit(seed), pl.col("p").cast(pl.String).str.zfill(8)),
        age_years=pl.when(has != 1).then(age_f),
        birth_date=pl.when(has != 0).then(pl.col("birth_date")),
        sex=pl.when(female).then(pl.lit("F")).otherwise(pl.lit("M")),
        menopausal_status=pl.when(female).then(meno),
        height_cm=pl.when(er.uniform("height_missing") >= 0.03).then(height),
        weight_kg=pl.when(er.uniform("weight_missing") >= 0.03).then(weight),
        _bmi=(weight / (height / 100) ** 2).round(1),
    )
    lf = lf.with_columns(
        bmi=pl.when(
            pl.col("height_cm").is_not_null()
            & pl.col("weight_kg").is_not_null()
            & (er.uniform("bmi_blank") >= 0.3)
        ).then(pl.col("_bmi"))
    )

    # --- risk factors -----------------------------------------------------------------
    questionnaire = er.uniform("questionnaire") >= 0.10

    def recorded(name: str, value: pl.Expr) -> pl.Expr:
        return pl.when(questionnaire & (er.uniform(f"blank_{name}") >= 0.03)).then(value)

    gc_dose = pl.col("_gc_dose").replace_strict(
        {0: 2.5, 1: 5.0, 2: 7.5, 3: 10.0, 4: 15.0, 5: 20.0}, return_dtype=pl.Float64
    )
    height_loss = (
        (
            er.normal("height_loss", 0.0, 1.4)
            + (age_f - 50).clip(0, 45) * 0.05
            + (pl.col("_kyphosis") | pl.col("_vfx")) * 2.0
        ).clip(0.0, 8.0)
        * 2
    ).round(0) / 2
    alcohol = (
        pl.when(pl.col("_drinker") == 0)
        .then(0.0)
        .when(pl.col("_drinker") == 1)
        .then((pl.col("_alcohol") * 4).floor() * 0.5 + 0.5)  # 0.5-2.0
        .otherwise((pl.col("_alcohol") * 5).floor() * 0.5 + 3.0)  # 3.0-5.0
    )
    smoker_p = pl.when(age_f < 60).then(0.16).otherwise(0.09)
    lf = lf.with_columns(
        prior_fragility_fracture=recorded("fx", pl.col("_fx")),
        vertebral_fracture=recorded("vfx", pl.col("_vfx")),
        glucocorticoid_mg_day=recorded(
            "gc_dose", pl.when(pl.col("_gc_user")).then(gc_dose).otherwise(0.0)
        ),
        glucocorticoid_months=recorded(
            "gc_months", pl.when(pl.col("_gc_user")).then(pl.col("_gc_months")).otherwise(0.0)
        ),
        parent_hip_fracture=recorded("parent", pl.col("_parent")),
        parent_hip_fracture_age=recorded(
            "parent_age",
            pl.when(pl.col("_parent") & pl.col("_parent_age_known")).then(pl.col("_parent_age")),
        ),
        height_loss_cm=recorded("height_loss", height_loss),
        current_smoker=recorded("smoker", pl.col("_u_smoker") < smoker_p),
        alcohol_units_day=recorded("alcohol", alcohol),
        kyphosis=recorded("kyphosis", pl.col("_kyphosis")),
        back_pain=recorded(
            "back_pain", pl.col("_u_back") < 0.15 + 0.1 * (pl.col("_vfx") | pl.col("_kyphosis"))
        ),
        on_treatment=pl.when(er.uniform("blank_treatment") >= 0.05).then(pl.col("_treated")),
    )
    lf = lf.with_columns(
        parent_hip_fracture_age=pl.when(pl.col("parent_hip_fracture")).then(
            pl.col("parent_hip_fracture_age")
        )
    )

    # --- FRAX (10-year probabilities, %) ------------------------------------------------
    t_frax = pl.coalesce("femoral_neck_t", "total_hip_t", "spine_t", "radius_33_t") + 0.0
    bumps = (
        0.55 * pl.col("_fx").cast(pl.Float64)
        + 0.35 * pl.col("_parent").cast(pl.Float64)
        + 0.3 * (pl.col("_gc_user") & (pl.col("_gc_months") >= 3)).cast(pl.Float64)
        + 0.25 * pl.col("current_smoker").fill_null(False).cast(pl.Float64)
        - 0.3 * (~female).cast(pl.Float64)
    )
    major = (
        (
            math.log(6.0)
            + 0.045 * (age_f - 65)
            - 0.30 * (t_frax + 1.5)
            + bumps
            + er.normal("frax_major_noise", 0.0, 0.2)
        )
        .exp()
        .clip(2.0, 45.0)
    )
    hip = (
        (
            math.log(1.2)
            + 0.085 * (age_f - 65)
            - 0.55 * (t_frax + 1.5)
            + 1.2 * bumps
            + er.normal("frax_hip_noise", 0.0, 0.25)
        )
        .exp()
        .clip(0.2, 20.0)
    )
    frax_on = (er.uniform("frax_blank") >= 0.09) & (age_f >= 40) & (age_f <= 90)
    lf = lf.with_columns(
        frax_major_pct=pl.when(frax_on).then(major.round(1)),
        frax_hip_pct=pl.when(frax_on).then(pl.min_horizontal(hip, major * 0.8).round(1)),
    )

    return lf.select([pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()]).collect()


def _frames(
    n_exams: int,
    seed: int,
    start: date,
    end: date,
    chunk_rows: int,
) -> Iterator[pl.DataFrame]:
    """Yield the exams in chunks of about ``chunk_rows`` rows (patients never split)."""
    if n_exams < 0:
        raise ValueError("n_exams must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if end < start:
        raise ValueError("end_date is before start_date")
    produced = 0
    p_next = 0
    while produced < n_exams:
        remaining = n_exams - produced
        want = min(chunk_rows, remaining)
        # `want` patients always carry at least `want` exams (each has >= 1).
        plan = _patient_plan(seed, p_next, p_next + want, produced, want, remaining)
        p_next = int(plan["p"].max()) + 1
        produced += int(plan["n_eff"].sum())
        yield _build(plan, seed, start, end)


def generate_exams(
    n_exams: int,
    seed: int,
    *,
    start_date: date = DEFAULT_START,
    end_date: date = DEFAULT_END,
) -> pl.DataFrame:
    """``n_exams`` clean synthetic canonical exams (typed, contract column order).

    Deterministic for a seed. Rows come grouped by patient (a patient's exams in date
    order); exam ids are ``EX<seed>-<9 digits>``, patient ids ``P<seed>-<8 digits>``, so
    frames from different seeds never share ids.
    """
    frames = list(_frames(n_exams, seed, start_date, end_date, max(n_exams, 1)))
    if not frames:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat(frames)


_BOOL_STYLES = (("true", "false"), ("yes", "no"), ("Y", "N"), ("1", "0"))


def to_text(frame: pl.DataFrame, seed: int, *, row_offset: int = 0) -> pl.DataFrame:
    """Render a typed canonical frame as CSV-ready strings (null = blank cell).

    ISO dates, `.` decimals rounded per `DECIMALS`, integers without decimals, booleans
    in a per-row mix of true/false, yes/no, Y/N and 1/0 (drawn from ``seed`` and the row
    number + ``row_offset``, so chunked rendering matches rendering in one piece).
    Columns other than the canonical ones are passed through unchanged.
    """
    rng = Rng(seed, pl.int_range(pl.len(), dtype=pl.UInt64) + row_offset)
    style = rng.choice("bool_style", [0.4, 0.2, 0.2, 0.2])
    yes = style.replace_strict({i: w[0] for i, w in enumerate(_BOOL_STYLES)})
    no = style.replace_strict({i: w[1] for i, w in enumerate(_BOOL_STYLES)})
    exprs: list[pl.Expr] = []
    for name in frame.columns:
        kind = CANONICAL_COLUMNS.get(name)
        col = pl.col(name)
        if kind is None or kind == "text":
            exprs.append(col)
        elif kind == "date":
            exprs.append(col.dt.to_string("%Y-%m-%d"))
        elif kind == "integer":
            exprs.append(col.cast(pl.String))
        elif kind == "number":
            digits = DECIMALS.get(name, 3)
            if digits == 0:
                exprs.append(col.round(0).cast(pl.Int64).cast(pl.String))
            else:
                exprs.append((col.round(digits) + 0.0).cast(pl.String))
        else:  # bool
            exprs.append(
                pl.when(col.is_null())
                .then(pl.lit(None, dtype=pl.String))
                .when(col)
                .then(pl.col("__yes"))
                .otherwise(pl.col("__no"))
                .alias(name)
            )
    return frame.with_columns(__yes=yes, __no=no).select(exprs)


def write_canonical_csv(
    path: str | Path,
    n_exams: int,
    seed: int,
    chunk_rows: int = 1_000_000,
    *,
    start_date: date = DEFAULT_START,
    end_date: date = DEFAULT_END,
) -> int:
    """Stream ``n_exams`` clean exams to one canonical CSV in chunks; return rows written.

    Memory stays bounded by ``chunk_rows``; the file holds exactly the rows of
    ``generate_exams(n_exams, seed)`` rendered by `to_text`, in the same order.
    """
    path = Path(path)
    written = 0
    with path.open("wb") as handle:
        handle.write((",".join(SCHEMA) + "\n").encode())
        for frame in _frames(n_exams, seed, start_date, end_date, chunk_rows):
            to_text(frame, seed, row_offset=written).write_csv(handle, include_header=False)
            written += frame.height
    return written
