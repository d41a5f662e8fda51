"""Who is classified how (clinical-rules.md section 1): WHO T, ISCD Z, or not assessed."""

from __future__ import annotations

import polars as pl

from transforms.rules.declare import ISCD, SPEC, WHO, Rule
from transforms.rules.names import fired
from transforms.rules.ruleset import Ruleset

RULES: tuple[Rule, ...] = (
    Rule(
        "BASIS-WHO", "basis",
        "Woman, postmenopausal (perimenopausal counts as postmenopausal), aged >= adult "
        "age; or man aged >= men_who_age: classified by T-score with WHO categories. When "
        "no valid site has a T-score the basis becomes not_assessed (flag "
        "NO_DIAGNOSTIC_SITE, warning; treatment not_applicable) and this ID still appears "
        "in reasons. Sex is F or M (validated upstream); any value other than F follows "
        "the men's rule.",
        ("basis.adult_age", "basis.men_who_age"), f"{ISCD}; {WHO}",
    ),
    Rule(
        "BASIS-ISCD-Z", "basis",
        "Premenopausal woman, or man from adult age to below men_who_age: classified by "
        "the lowest valid Z-score in ISCD wording; no WHO category, diagnostic T-score "
        "null, treatment not_applicable (BMD drug thresholds do not apply). No valid "
        "Z-score: basis not_assessed, flag NO_DIAGNOSTIC_SITE.",
        ("basis.adult_age", "basis.men_who_age"), ISCD,
    ),
    Rule(
        "BASIS-PEDIATRIC", "basis",
        "Age below adult age: not assessed (basis not_assessed, treatment not_applicable), "
        "flag PEDIATRIC_NOT_ASSESSED (info). Sites, risk features, WORKUP-LOW-Z, "
        "VFA-INDICATED and MON-TREATED are still evaluated and reported.",
        ("basis.adult_age",), ISCD,
    ),
    Rule(
        "MENO-ASSUMED", "basis",
        "Adult woman whose menopausal status is missing, unknown or not one of "
        "pre/peri/post: treated as postmenopausal from menopause_assumed_age, else "
        "premenopausal; flag MENOPAUSE_ASSUMED (info). Not applied below adult age, where "
        "the status does not matter.",
        ("basis.menopause_assumed_age",), SPEC,
        input_limits=("Lunar and NHANES inputs hold no menopausal status, APEX only post "
                      "(a MENOPAUSE_YEAR up to the exam year): their other adult women are "
                      "classified by this rule's assumed status."),
    ),
)

#: Menopausal status values the contract knows; anything else (or null) is "unknown".
KNOWN_STATUS = ["pre", "peri", "post"]
#: Perimenopausal counts as postmenopausal (ISCD: WHO criteria apply in the transition).
POST_STATUS = ["peri", "post"]


def basis_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of BASIS-WHO, BASIS-ISCD-Z, BASIS-PEDIATRIC and MENO-ASSUMED."""
    b = ruleset.basis
    age = pl.col("age_years")
    woman = pl.col("sex") == "F"
    adult = age >= b.adult_age
    status = pl.col("menopausal_status")
    known = status.is_in(KNOWN_STATUS).fill_null(False)
    post = status.is_in(POST_STATUS).fill_null(False) | (
        ~known & (age >= b.menopause_assumed_age)
    )
    who = adult & ((woman & post) | (~woman & (age >= b.men_who_age)))
    return [
        who.alias(fired("BASIS-WHO")),
        (adult & ~who).alias(fired("BASIS-ISCD-Z")),
        (~adult).alias(fired("BASIS-PEDIATRIC")),
        (woman & adult & ~known).alias(fired("MENO-ASSUMED")),
    ]
