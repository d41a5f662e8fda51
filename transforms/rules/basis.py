"""Who is classified how (clinical-rules.md section 1): WHO T, ISCD Z, or not assessed."""

from __future__ import annotations

import polars as pl

from transforms.rules.declare import ISCD, SPEC, WHO, Rule
from transforms.rules.names import MIN_T, fired, fired_col
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
    Rule(
        "MENO-UNKNOWN-LOW-BMD", "basis",
        "Woman aged meno_unknown_low_bmd_from_age to below meno_unknown_low_bmd_below_age "
        "(40-49) whose menopausal status is missing or unknown (as MENO-ASSUMED), with a "
        "valid site (section 2) whose T-score, rounded to 6 decimals, is <= "
        "osteoporosis_t: flag MENOPAUSE_UNKNOWN_LOW_BMD (warning: on the WHO basis this "
        "would read as osteoporosis; confirm the status). Fires on whichever basis the "
        "assumed status chose; it changes no decision.",
        ("basis.meno_unknown_low_bmd_from_age", "basis.meno_unknown_low_bmd_below_age",
         "diagnosis.osteoporosis_t"), SPEC,
    ),
)

#: Decimals a T-score is compared with a cut-off on (clinical-rules.md section 2): a
#: computed -2.4999999999999996 counts as the cut -2.5.
CUT_DECIMALS = 6

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


def low_bmd_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """MENO-UNKNOWN-LOW-BMD, once the lowest valid T-score is known (`sites.lowest_stage`).

    The status decides the basis, so a woman in her forties whose status was not recorded
    is assumed premenopausal and judged by Z; a T-score in the osteoporosis range then
    reaches no list unless someone confirms the status.
    """
    b = ruleset.basis
    age = pl.col("age_years")
    in_band = (age >= b.meno_unknown_low_bmd_from_age) & (
        age < b.meno_unknown_low_bmd_below_age)
    low = pl.col(MIN_T).round(CUT_DECIMALS) <= ruleset.diagnosis.osteoporosis_t
    fires = fired_col("MENO-ASSUMED") & in_band & low
    return [fires.fill_null(False).alias(fired("MENO-UNKNOWN-LOW-BMD"))]
