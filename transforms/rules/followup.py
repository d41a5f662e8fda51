"""Outputs beside the treatment (clinical-rules.md section 6): secondary-cause workup,
VFA, next DXA date, the LIFESTYLE rule and the glucocorticoid risk review."""

from __future__ import annotations

import polars as pl

from transforms.rules.basis import CUT_DECIMALS
from transforms.rules.caroc import due_dates as caroc_due_dates
from transforms.rules.caroc import monitoring as caroc_monitoring
from transforms.rules.cuts import at_cut
from transforms.rules.declare import (
    ACR_GIOP,
    ARTICLE,
    ISCD,
    NO_ON_TREATMENT,
    REPORT_VIEWS,
    SPEC,
    UNLESS_JOINED,
    Rule,
)
from transforms.rules.lists import labels
from transforms.rules.names import LEVEL, MIN_T, MIN_Z, WHO_OK, fired, fired_col
from transforms.rules.ruleset import ON_TREATMENT, Ruleset
from transforms.rules.treatment import LEVEL_CODES, code

RULES: tuple[Rule, ...] = (
    Rule(
        "WORKUP-LOW-Z", "output",
        "secondary_cause_workup: any valid site with Z <= z_threshold, at any age and on "
        "any basis (the article's caveat for the young; a normal Z reads as 'no secondary "
        "cause suggested').",
        ("diagnosis.z_threshold",), f"{ARTICLE}; {ISCD}",
    ),
    Rule(
        "WORKUP-Z-FRACTURE", "output",
        "secondary_cause_workup: a prior fragility fracture or a radiographic vertebral "
        "fracture on the Z basis (BASIS-ISCD-Z); flag FRACTURE_ON_Z_BASIS (high: refer "
        "for specialist assessment).",
        (), SPEC,
    ),
    Rule(
        "VFA-INDICATED", "output",
        "vfa_recommended: height loss > height_loss_cm, kyphosis, or back pain (any "
        "basis).",
        ("risk.height_loss_cm",), ARTICLE,
        "Article: height loss, kyphosis or back pain. ISCD adds T < -1.0 with age, "
        "height-loss or glucocorticoid criteria.",
    ),
    Rule(
        "VFA-ISCD-2019", "output",
        "vfa_recommended: on the WHO basis (a diagnostic T-score found), a valid site with "
        "T < t_score_below (rounded to 6 decimals) and any of: a woman aged >= women_age, "
        "a man aged >= men_age (any sex other than F follows the men's age), height loss "
        "> height_loss_cm, glucocorticoid >= glucocorticoid_mg_day mg/day for >= "
        "glucocorticoid_months months, or a vertebral fracture listed in "
        "prior_fracture_sites while vertebral_fracture (radiographic) is not recorded.",
        ("vfa.t_score_below", "vfa.women_age", "vfa.men_age", "risk.height_loss_cm",
         "vfa.glucocorticoid_mg_day", "vfa.glucocorticoid_months"), ISCD,
    ),
    Rule(
        "MON-TREATED", "monitoring",
        "next_dxa_due = exam date + treated_months when on_treatment is true or treatment "
        "is recommended (any basis). Months are calendar months (end of month clamps). "
        "Where two MON lines give a date the earlier wins, and every MON line that fires "
        "adds its ID to reasons.",
        ("monitoring.treated_months",), ARTICLE,
        input_limits=(f"{NO_ON_TREATMENT}: for their exams only treatment recommended gives "
                      f"the treated interval, {UNLESS_JOINED}."),
    ),
    Rule(
        "MON-UNTREATED", "monitoring",
        "MON-TREATED did not apply (not on treatment, not recommended), and osteopenia "
        "or treatment consider: exam date + untreated_months.",
        ("monitoring.untreated_months",), ARTICLE,
        "Article: 2 years. Guidelines: interval by T-score, ~15 years (T > -1.5), ~5 "
        "(-1.5 to -1.99), ~1 (-2.0 to -2.49) (Gourlay, NEJM 2012).",
    ),
    Rule(
        "MON-GLUCOCORTICOID", "monitoring",
        "GC-LONG-TERM fired, on any basis: exam date + glucocorticoid_months, also at "
        "normal BMD (long-term glucocorticoids keep bone loss going). Like every MON line "
        "that gives a date it adds its ID to reasons, also where another line's earlier "
        "date wins.",
        ("monitoring.glucocorticoid_months",), f"{SPEC}; {ACR_GIOP}",
    ),
    Rule(
        "MON-Z-FRACTURE", "monitoring",
        "Z basis with a prior fragility or radiographic vertebral fracture "
        "(WORKUP-Z-FRACTURE): exam date + z_fracture_months.",
        ("monitoring.z_fracture_months",), SPEC,
    ),
    Rule(
        "MON-NORMAL", "monitoring",
        "Normal BMD and no other MON line fired: next_dxa_due = exam date + "
        "normal_months, or no date when the ruleset sets none (core-2025).",
        ("monitoring.normal_months",), SPEC,
    ),
    Rule(
        "LIFESTYLE", "output",
        "For osteopenia and osteoporosis, for any exam whose treatment is recommended, "
        "consider or on_treatment, and for GC-LONG-TERM at any BMD and on any basis: "
        "weight_bearing_exercise, fall_prevention, calcium_1000_1200mg, "
        "vitamin_d_800_1000iu; plus smoking_cessation for smokers (RF-SMOKING) and "
        "alcohol_reduction for RF-ALCOHOL. Otherwise an empty list.",
        (), f"{ARTICLE}; {ACR_GIOP}",
    ),
    Rule(
        "GC-RISK-REVIEW", "output",
        "On the Z basis (BASIS-ISCD-Z, also where no Z-score was found), age >= "
        "glucocorticoid_review_age and GC-LONG-TERM: flag GLUCOCORTICOID_RISK_REVIEW "
        "(warning: ACR 2022 assesses fracture risk from age 40 on long-term "
        "glucocorticoids, which the Z basis does not).",
        ("risk.glucocorticoid_review_age",), ACR_GIOP,
    ),
    Rule(
        "MON-OVERDUE", "monitoring",
        "At report time, a patient whose latest next_dxa_due is before the report date "
        "with no later exam is overdue (due on the report date itself is not yet "
        "overdue).",
        (), SPEC, implemented_in=REPORT_VIEWS,
    ),
)

#: Lifestyle advice codes in the contract's order.
LIFESTYLE_CODES: tuple[str, ...] = (
    "weight_bearing_exercise",
    "fall_prevention",
    "calcium_1000_1200mg",
    "vitamin_d_800_1000iu",
    "smoking_cessation",
    "alcohol_reduction",
)
#: Treatments that get lifestyle advice at any BMD.
LIFESTYLE_LEVELS: tuple[str, ...] = ("recommended", "consider", ON_TREATMENT)


def followup_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of WORKUP-*, VFA-*, MON-TREATED, LIFESTYLE and GC-RISK-REVIEW."""
    vfa = (
        (pl.col("height_loss_cm") > ruleset.risk.height_loss_cm).fill_null(False)
        | pl.col("kyphosis").fill_null(False)
        | pl.col("back_pain").fill_null(False)
    )
    level = pl.col(LEVEL)
    treated = pl.col("on_treatment").fill_null(False) | (level == code("recommended"))
    z_fracture = fired_col("BASIS-ISCD-Z") & (
        fired_col("RF-FRAGILITY-FX") | fired_col("RF-VERTEBRAL-FX"))
    active = level.is_in([LEVEL_CODES.index(x) for x in LIFESTYLE_LEVELS])
    review = fired_col("BASIS-ISCD-Z") & fired_col("GC-LONG-TERM") & (
        pl.col("age_years") >= ruleset.risk.glucocorticoid_review_age)
    return [
        (at_cut(pl.col(MIN_Z)) <= ruleset.diagnosis.z_threshold).fill_null(False).alias(
            fired("WORKUP-LOW-Z")
        ),
        z_fracture.alias(fired("WORKUP-Z-FRACTURE")),
        vfa.alias(fired("VFA-INDICATED")),
        vfa_iscd(ruleset).alias(fired("VFA-ISCD-2019")),
        treated.alias(fired("MON-TREATED")),
        (fired_col("WHO-OSTEOPENIA") | fired_col("WHO-OSTEOPOROSIS") | active
         | fired_col("GC-LONG-TERM")).alias(fired("LIFESTYLE")),
        review.fill_null(False).alias(fired("GC-RISK-REVIEW")),
    ]


def vfa_iscd(ruleset: Ruleset) -> pl.Expr:
    """VFA-ISCD-2019: a T below the cut on the WHO basis and one ISCD 2019 criterion.

    The glucocorticoid criterion is ISCD's 5 mg/day, between GC-LONG-TERM's 2.5 and
    RF-GLUCOCORTICOID's 7.5, so it has its own thresholds. A listed vertebral fracture
    counts only while the radiographic answer is blank: VFA is how it gets confirmed.
    """
    v = ruleset.vfa
    age = pl.col("age_years")
    woman = pl.col("sex") == "F"
    listed = pl.col("prior_fracture_sites").list.contains("vertebral")
    criteria = [
        woman & (age >= v.women_age),
        ~woman & (age >= v.men_age),
        pl.col("height_loss_cm") > ruleset.risk.height_loss_cm,
        (pl.col("glucocorticoid_mg_day") >= v.glucocorticoid_mg_day)
        & (pl.col("glucocorticoid_months") >= v.glucocorticoid_months),
        listed & pl.col("vertebral_fracture").is_null(),
    ]
    low = pl.col(WHO_OK) & (pl.col(MIN_T).round(CUT_DECIMALS) < v.t_score_below)
    return (low & pl.any_horizontal(c.fill_null(False) for c in criteria)).fill_null(False)


def monitoring_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """MON-UNTREATED, MON-GLUCOCORTICOID, MON-Z-FRACTURE, MON-NORMAL and MON-CAROC (a
    ruleset that follows up by CAROC sets MON-UNTREATED's interval to none)."""
    m = ruleset.monitoring
    untreated = ~fired_col("MON-TREATED") & (
        fired_col("WHO-OSTEOPENIA") | (pl.col(LEVEL) == code("consider")))
    if m.untreated_months is None:
        untreated = pl.lit(False)
    caroc = caroc_monitoring(ruleset)
    # every MON line that gives a date adds its ID (section 6): no "only when earlier"
    glucocorticoid = fired_col("GC-LONG-TERM") if m.glucocorticoid_months is not None else (
        pl.lit(False))
    z_fracture = fired_col("WORKUP-Z-FRACTURE") if m.z_fracture_months is not None else (
        pl.lit(False))
    other = fired_col("MON-TREATED") | untreated | glucocorticoid | z_fracture | caroc
    return [
        caroc.alias(fired("MON-CAROC")),
        untreated.alias(fired("MON-UNTREATED")),
        glucocorticoid.alias(fired("MON-GLUCOCORTICOID")),
        z_fracture.alias(fired("MON-Z-FRACTURE")),
        (fired_col("WHO-NORMAL") & ~other).alias(fired("MON-NORMAL")),
    ]


def _due(months: int | None) -> pl.Expr:
    if months is None:
        return pl.lit(None, dtype=pl.Date)
    return pl.col("exam_date").dt.offset_by(f"{months}mo")


def outputs_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """secondary_cause_workup, vfa_recommended and next_dxa_due (the earliest date)."""
    m = ruleset.monitoring
    dates = [
        pl.when(fired_col(rule)).then(_due(months))
        for rule, months in (
            ("MON-TREATED", m.treated_months),
            ("MON-UNTREATED", m.untreated_months),
            ("MON-GLUCOCORTICOID", m.glucocorticoid_months),
            ("MON-Z-FRACTURE", m.z_fracture_months),
            ("MON-NORMAL", m.normal_months),
            ("TX-DRUG-HOLIDAY", ruleset.treatment.drug_holiday_months),
        )
        if months is not None
    ] + caroc_due_dates(ruleset)
    due = pl.min_horizontal(dates) if dates else pl.lit(None, dtype=pl.Date)
    return [
        (fired_col("WORKUP-LOW-Z") | fired_col("WORKUP-Z-FRACTURE")).alias(
            "secondary_cause_workup"),
        (fired_col("VFA-INDICATED") | fired_col("VFA-ISCD-2019")).alias("vfa_recommended"),
        due.cast(pl.Date).alias("next_dxa_due"),
    ]


def lifestyle_list() -> pl.Expr:
    """The lifestyle advice list (run on the distinct fired-bit combinations only)."""
    advice = fired_col("LIFESTYLE")
    conditions = [advice] * 4 + [
        advice & fired_col("RF-SMOKING"),
        advice & fired_col("RF-ALCOHOL"),
    ]
    return labels(list(zip(conditions, LIFESTYLE_CODES, strict=True)))
