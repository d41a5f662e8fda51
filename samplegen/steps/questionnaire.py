"""Build steps for what the exam's form records: identity, body size, risk factors,
treatment status and FRAX."""

from __future__ import annotations

import math

import polars as pl

from samplegen.steps.draws import FEMALE, Draws
from samplegen.steps.patients import FRACTURE_SITES

#: Women's menopausal status by age: per age band (below `age`; None: the oldest), the
#: status of each uniform draw below the cumulative share; above the last share: blank.
_MENOPAUSE: tuple[tuple[int | None, tuple[tuple[float, str], ...]], ...] = (
    (45, ((0.85, "pre"), (0.90, "peri"), (0.95, "unknown"))),
    (55, ((0.20, "pre"), (0.55, "peri"), (0.90, "post"), (0.95, "unknown"))),
    (None, ((0.88, "post"), (0.93, "unknown"))),
)


def _by_share(u: pl.Expr, shares: tuple[tuple[float, str], ...]) -> pl.Expr:
    """The status of the first cumulative share that `u` is below (null above all)."""
    (first, status), *rest = shares
    chosen = pl.when(u < first).then(pl.lit(status))
    for share, status in rest:
        chosen = chosen.when(u < share).then(pl.lit(status))
    return chosen


def _menopause(age: pl.Expr, u: pl.Expr) -> pl.Expr:
    """Women's menopausal status by age (blank or `unknown` in some): `_MENOPAUSE`."""
    *bands, (_, oldest) = _MENOPAUSE
    (first_age, first), *rest = bands
    status = pl.when(age < first_age).then(_by_share(u, first))
    for upper, shares in rest:
        status = status.when(age < upper).then(_by_share(u, shares))
    return status.otherwise(_by_share(u, oldest))


def identity_and_body(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Exam and patient ids, age and/or birth date, sex, menopausal status, height (with
    age-related loss), weight, BMI (blank in some rows, computed by the pipeline)."""
    er = d.exam
    age_f = pl.col("_age").cast(pl.Float64)
    has = er.choice("age_fields", [0.08, 0.08, 0.84])  # 0 age only, 1 birth only, 2 both
    height = (pl.col("_height") - (age_f - 60).clip(0, 40) * 0.08).round(1)
    weight = (pl.col("_weight") + er.normal("weight_drift", 0.0, 1.5)).clip(45.0, 110.0).round(1)
    seed = pl.lit(d.seed)
    lf = lf.with_columns(
        exam_id=pl.format("EX{}-{}", seed, pl.col("exam_no").cast(pl.String).str.zfill(9)),
        patient_id=pl.format("P{}-{}", seed, pl.col("p").cast(pl.String).str.zfill(8)),
        age_years=pl.when(has != 1).then(age_f),
        birth_date=pl.when(has != 0).then(pl.col("birth_date")),
        sex=pl.when(FEMALE).then(pl.lit("F")).otherwise(pl.lit("M")),
        menopausal_status=pl.when(FEMALE).then(_menopause(age_f, er.uniform("menopause"))),
        height_cm=pl.when(er.uniform("height_missing") >= 0.03).then(height),
        weight_kg=pl.when(er.uniform("weight_missing") >= 0.03).then(weight),
        _bmi=(weight / (height / 100) ** 2).round(1),
    )
    return lf.with_columns(
        bmi=pl.when(
            pl.col("height_cm").is_not_null()
            & pl.col("weight_kg").is_not_null()
            & (er.uniform("bmi_blank") >= 0.3)
        ).then(pl.col("_bmi"))
    )


def _site_codes() -> pl.Expr:
    """The patient's fracture sites as `prior_fracture_sites` text: `;`-separated codes
    in contract order."""
    codes = dict(enumerate(FRACTURE_SITES))

    def code(index: pl.Expr) -> pl.Expr:
        return index.replace_strict(codes, return_dtype=pl.String)

    first, second = pl.col("_fx_site1"), pl.col("_fx_site2")  # second: null for one site
    low = pl.min_horizontal(first, second)  # nulls ignored
    high = pl.when(second.is_not_null()).then(pl.max_horizontal(first, second))
    return pl.concat_str([code(low), code(high)], separator=";", ignore_nulls=True)


def risk_factors(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """The risk questionnaire (missing in 10% of exams, 3% blanks per field) and the
    treatment status (5% blank). The fracture sites, where the patient's are known, are
    recorded like any other field: a blank `prior_fragility_fracture` may sit beside
    listed sites (which imply it), a recorded "no" never does."""
    er = d.exam
    age_f = pl.col("_age").cast(pl.Float64)
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
    gc_user = pl.col("_gc_user")
    lf = lf.with_columns(
        prior_fragility_fracture=recorded("fx", pl.col("_fx")),
        prior_fracture_sites=recorded(
            "fx_sites", pl.when(pl.col("_fx") & pl.col("_fx_site_known")).then(_site_codes())
        ),
        vertebral_fracture=recorded("vfx", pl.col("_vfx")),
        glucocorticoid_mg_day=recorded("gc_dose", pl.when(gc_user).then(gc_dose).otherwise(0.0)),
        glucocorticoid_months=recorded(
            "gc_months", pl.when(gc_user).then(pl.col("_gc_months")).otherwise(0.0)
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
    return lf.with_columns(
        parent_hip_fracture_age=pl.when(pl.col("parent_hip_fracture")).then(
            pl.col("parent_hip_fracture_age")
        )
    )


def frax(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """FRAX 10-year probabilities (%) from age, the lowest-site T and the risk factors;
    blank in ~9% and outside ages 40-90."""
    er = d.exam
    age_f = pl.col("_age").cast(pl.Float64)
    t_frax = pl.coalesce("femoral_neck_t", "total_hip_t", "spine_t", "radius_33_t") + 0.0
    bumps = (
        0.55 * pl.col("_fx").cast(pl.Float64)
        + 0.35 * pl.col("_parent").cast(pl.Float64)
        + 0.3 * (pl.col("_gc_user") & (pl.col("_gc_months") >= 3)).cast(pl.Float64)
        + 0.25 * pl.col("current_smoker").fill_null(False).cast(pl.Float64)
        - 0.3 * (~FEMALE).cast(pl.Float64)
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
    return lf.with_columns(
        frax_major_pct=pl.when(frax_on).then(major.round(1)),
        frax_hip_pct=pl.when(frax_on).then(pl.min_horizontal(hip, major * 0.8).round(1)),
    )
