"""High-risk features (clinical-rules.md section 3).

A risk input that was not recorded (null) never fires a rule; the RISK_FACTORS_INCOMPLETE
flag lists the inputs whose absence left a feature undecided.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.declare import ACR_GIOP, ARTICLE, FRAX, Rule, ids
from transforms.rules.names import fired, fired_col
from transforms.rules.ruleset import Ruleset

FEATURES: tuple[Rule, ...] = (
    Rule(
        "RF-FRAGILITY-FX", "risk",
        "Prior fragility fracture recorded as true. Every RF rule: an input that was not "
        "recorded (null) never fires; RISK_FACTORS_INCOMPLETE (info) lists the inputs "
        "that were not recorded. Features are reported on every basis; they change the "
        "treatment only on the WHO basis.",
        (), ARTICLE,
        input_limits=("APEX and Lunar inputs hold no risk-factor questionnaire, only "
                      "height and weight: of the RF rules only RF-LOW-BMI (and RF-AGE65-PLUS "
                      "beside it) can fire, TX-FRAGILITY-FX and the BHOF fracture lines "
                      "never match, and RISK_FACTORS_INCOMPLETE lists the other inputs; "
                      "NHANES adds the parent hip fracture."),
    ),
    Rule(
        "RF-GLUCOCORTICOID", "risk",
        "Glucocorticoid dose >= glucocorticoid_mg_day mg prednisone-equivalent per day for "
        ">= glucocorticoid_months months (both recorded).",
        ("risk.glucocorticoid_mg_day", "risk.glucocorticoid_months"), ARTICLE,
        "Article: >= 7.5 mg/day for >= 3 months. FRAX counts >= 5 mg/day for >= 3 "
        "months; 7.5 mg is its upward-adjustment tier.",
    ),
    Rule(
        "RF-PARENT-HIP-FX", "risk",
        "Parent hip fracture, where the parent's age at the fracture is not recorded or "
        "< parent_fracture_age.",
        ("risk.parent_fracture_age",), ARTICLE,
        "Article: maternal hip fracture before 60. FRAX: either parent, any age.",
    ),
    Rule(
        "RF-HEIGHT-LOSS", "risk",
        "Height loss > height_loss_cm cm.",
        ("risk.height_loss_cm",), ARTICLE,
    ),
    Rule(
        "RF-VERTEBRAL-FX", "risk",
        "Radiographic (morphometric) vertebral fracture recorded as true.",
        (), ARTICLE,
    ),
    Rule(
        "RF-LOW-BMI", "risk",
        "BMI < bmi kg/m2 (BMI from height and weight where not given; upstream).",
        ("risk.bmi",), ARTICLE,
        "Article: BMI < 19. FRAX uses BMI as a continuous input.",
    ),
    Rule(
        "RF-SMOKING", "risk",
        "Current smoker recorded as true.",
        (), ARTICLE,
    ),
    Rule(
        "RF-ALCOHOL", "risk",
        "Alcohol >= alcohol_units_day units per day (FRAX definition of excessive).",
        ("risk.alcohol_units_day",), f"{ARTICLE}; {FRAX}",
    ),
    Rule(
        "RF-AGE65-PLUS", "risk",
        "Age >= age_plus and at least one other RF feature fired. risk_factor_count "
        "counts every RF rule that fired, this one included.",
        ("risk.age_plus",), ARTICLE,
    ),
)
#: Not a feature (never counted in risk_factor_count): the long-term use that
#: MON-GLUCOCORTICOID, LIFESTYLE and GC-RISK-REVIEW read, at a dose below RF-GLUCOCORTICOID's.
GC_LONG_TERM = Rule(
    "GC-LONG-TERM", "risk",
    "Not a high-risk feature: glucocorticoid dose >= long_term_glucocorticoid_mg_day mg "
    "prednisone-equivalent per day for >= long_term_glucocorticoid_months months (both "
    "recorded), the ACR 2022 definition of long-term use. Read by MON-GLUCOCORTICOID, "
    "LIFESTYLE and GC-RISK-REVIEW on any basis; not counted in risk_factor_count.",
    ("risk.long_term_glucocorticoid_mg_day", "risk.long_term_glucocorticoid_months"),
    ACR_GIOP,
)
RULES: tuple[Rule, ...] = (*FEATURES, GC_LONG_TERM)
#: RF-* rule IDs in catalog order (RF-AGE65-PLUS last: it depends on the others).
RF_IDS: tuple[str, ...] = ids(FEATURES)
#: Risk inputs in the order RISK_FACTORS_INCOMPLETE lists them.
RISK_INPUTS: tuple[str, ...] = (
    "prior_fragility_fracture",
    "glucocorticoid_mg_day",
    "glucocorticoid_months",
    "parent_hip_fracture",
    "height_loss_cm",
    "vertebral_fracture",
    "bmi",
    "current_smoker",
    "alcohol_units_day",
)


def features_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of every RF-* rule except RF-AGE65-PLUS."""
    r = ruleset.risk
    c = pl.col
    parent_age = c("parent_hip_fracture_age")
    rules = {
        "RF-FRAGILITY-FX": c("prior_fragility_fracture"),
        "RF-GLUCOCORTICOID": (c("glucocorticoid_mg_day") >= r.glucocorticoid_mg_day)
        & (c("glucocorticoid_months") >= r.glucocorticoid_months),
        "RF-PARENT-HIP-FX": c("parent_hip_fracture")
        & (parent_age.is_null() | (parent_age < r.parent_fracture_age)),
        "RF-HEIGHT-LOSS": c("height_loss_cm") > r.height_loss_cm,
        "RF-VERTEBRAL-FX": c("vertebral_fracture"),
        "RF-LOW-BMI": c("bmi") < r.bmi,
        "RF-SMOKING": c("current_smoker"),
        "RF-ALCOHOL": c("alcohol_units_day") >= r.alcohol_units_day,
    }
    rules["GC-LONG-TERM"] = long_term_glucocorticoid(ruleset)
    return [expr.fill_null(False).alias(fired(rule)) for rule, expr in rules.items()]


def long_term_glucocorticoid(ruleset: Ruleset) -> pl.Expr:
    """GC-LONG-TERM: dose and duration both recorded and at or above the ACR limits (null
    where either is not recorded, like every risk input)."""
    r = ruleset.risk
    return (pl.col("glucocorticoid_mg_day") >= r.long_term_glucocorticoid_mg_day) & (
        pl.col("glucocorticoid_months") >= r.long_term_glucocorticoid_months)


def age_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """RF-AGE65-PLUS: the age limit plus at least one other feature."""
    others = pl.any_horizontal([fired_col(rule) for rule in RF_IDS[:-1]])
    return [
        ((pl.col("age_years") >= ruleset.risk.age_plus) & others).alias(
            fired("RF-AGE65-PLUS")
        )
    ]


def missing_mask(ruleset: Ruleset) -> pl.Expr:
    """Bit i set: RISK_INPUTS[i] was not recorded where it matters (UInt16).

    RF-GLUCOCORTICOID needs both dose and duration at or above their limits, so when one
    of the two is recorded below its limit the rule cannot fire whatever the other is:
    the other's absence leaves nothing undecided and is not listed (either direction).
    """
    c = pl.col
    r = ruleset.risk
    dose_low = (c("glucocorticoid_mg_day") < r.glucocorticoid_mg_day).fill_null(False)
    months_low = (c("glucocorticoid_months") < r.glucocorticoid_months).fill_null(False)
    decided_by = {"glucocorticoid_months": dose_low, "glucocorticoid_mg_day": months_low}
    bits = []
    for i, name in enumerate(RISK_INPUTS):
        missing = c(name).is_null()
        if name in decided_by:
            missing = missing & ~decided_by[name]
        bits.append(missing.cast(pl.UInt16) * (1 << i))
    return pl.sum_horizontal(bits).cast(pl.UInt16)


def missing_detail(mask: pl.Expr) -> pl.Expr:
    """The RISK_FACTORS_INCOMPLETE detail for a `missing_mask` value."""
    names = pl.concat_str(
        [pl.when((mask & (1 << i)) != 0).then(pl.lit(n)) for i, n in enumerate(RISK_INPUTS)],
        separator=", ",
        ignore_nulls=True,
    )
    return pl.lit("not recorded: ") + names
