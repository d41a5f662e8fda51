"""Flags raised while deciding: one row per exam and code, details free of identifiers.

Details name thresholds and input columns only, never a value that could identify a
patient (no ids, dates or ages).
"""

from __future__ import annotations

import polars as pl

from schemas.tables import FLAG_SCHEMA
from schemas.vocabulary import Severity
from transforms.rules import very_high_risk
from transforms.rules.names import NO_SITE, fired_col, tx_category
from transforms.rules.risk import missing_detail, missing_mask
from transforms.rules.ruleset import Ruleset
from transforms.rules.treatment import no_indication_on_treatment
from transforms.tscore import REFERENCE_SITES, not_computed_column

FLAG_COLUMNS: tuple[str, ...] = tuple(FLAG_SCHEMA)
#: Flag codes in the order the flags frame groups them, with their severity.
FLAG_SEVERITY: dict[str, Severity] = {
    "MENOPAUSE_ASSUMED": Severity.INFO,
    "MENOPAUSE_UNKNOWN_LOW_BMD": Severity.WARNING,
    "PEDIATRIC_NOT_ASSESSED": Severity.INFO,
    "SPINE_TOO_FEW_VERTEBRAE": Severity.WARNING,
    "T_SCORE_NOT_COMPUTED": Severity.INFO,
    "NO_DIAGNOSTIC_SITE": Severity.WARNING,
    "VERTEBRAL_FX_NORMAL_BMD": Severity.WARNING,
    "FRACTURE_SITE_UNKNOWN": Severity.INFO,
    "ON_TREATMENT_NO_INDICATION": Severity.INFO,
    "FRACTURE_ON_Z_BASIS": Severity.HIGH,
    "VERY_HIGH_RISK": Severity.HIGH,
    "SAME_DAY_EXAMS": Severity.INFO,
    "FRACTURE_HISTORY_CONFLICT": Severity.WARNING,
    "GLUCOCORTICOID_RISK_REVIEW": Severity.WARNING,
    "RISK_FACTORS_INCOMPLETE": Severity.INFO,
}
_MISSING = "_missing"


def flag_details(ruleset: Ruleset) -> dict[str, str]:
    """The fixed detail texts (RISK_FACTORS_INCOMPLETE's is built from the inputs)."""
    age = f"{ruleset.basis.menopause_assumed_age:g}"
    return {
        "MENOPAUSE_ASSUMED_POST": (
            f"menopausal status not recorded; assessed as postmenopausal (age >= {age})"
        ),
        "MENOPAUSE_ASSUMED_PRE": (
            f"menopausal status not recorded; assessed as premenopausal (age < {age})"
        ),
        "PEDIATRIC_NOT_ASSESSED": (
            f"age below {ruleset.basis.adult_age:g}: adult WHO T-score and ISCD Z-score "
            "criteria not applied"
        ),
        "SPINE_TOO_FEW_VERTEBRAE": (
            f"lumbar spine result on fewer than {ruleset.sites.spine_min_vertebrae} "
            "vertebrae is not used for diagnosis"
        ),
        "NO_DIAGNOSTIC_SITE_T": "WHO basis needs a T-score but no valid diagnostic site has one",
        "NO_DIAGNOSTIC_SITE_Z": (
            "ISCD Z-score basis needs a Z-score but no valid diagnostic site has one"
        ),
        "VERTEBRAL_FX_NORMAL_BMD": (
            "radiographic vertebral fracture at normal BMD: guidelines read a vertebral "
            "fragility fracture as osteoporosis at any BMD; confirm it is a fragility fracture"
        ),
        "FRACTURE_SITE_UNKNOWN": (
            "prior fragility fracture without a recorded site: BHOF treats hip and vertebral "
            "fractures at any BMD, other sites only with low bone mass"
        ),
        "ON_TREATMENT_NO_INDICATION": (
            "on treatment, but only a not-indicated line matched: review whether therapy "
            "should go on (e.g. a drug holiday)"
        ),
        "FRACTURE_ON_Z_BASIS": (
            "fragility or radiographic vertebral fracture on the Z-score basis: refer for "
            "specialist assessment"
        ),
        "MENOPAUSE_UNKNOWN_LOW_BMD": (
            "menopausal status not recorded and a valid site with T <= "
            f"{ruleset.diagnosis.osteoporosis_t:g}: on the WHO basis this would read as "
            "osteoporosis; confirm the status"
        ),
        "GLUCOCORTICOID_RISK_REVIEW": (
            f"long-term glucocorticoids (>= {ruleset.risk.long_term_glucocorticoid_mg_day:g} "
            f"mg/day for >= {ruleset.risk.long_term_glucocorticoid_months:g} months) on the "
            "Z-score basis: ACR 2022 assesses fracture risk from age "
            f"{ruleset.risk.glucocorticoid_review_age:g}, which the Z basis does not"
        ),
        "SAME_DAY_EXAMS": "judged with the other exams of the same day",
        "FRACTURE_HISTORY_CONFLICT": (
            "recorded no after an earlier fracture; the fracture still counts"
        ),
    }


def not_computed_detail() -> pl.Expr:
    """T_SCORE_NOT_COMPUTED's detail: each site whose BMD got no T-score, and why (the
    reading step's `_t_not_computed_<site>`); null where every BMD got one."""
    parts = [
        pl.when(pl.col(not_computed_column(site)).is_not_null())
        .then(pl.lit(f"{site}: T-score not computed from the BMD: ")
              + pl.col(not_computed_column(site)))
        for site in REFERENCE_SITES
    ]
    joined = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def _flag(frame: pl.LazyFrame, mask: pl.Expr, code: str, detail: pl.Expr,
          label: str) -> pl.LazyFrame:
    return frame.filter(mask).select(
        pl.col("exam_id"),
        pl.lit(code).alias("code"),
        pl.lit(FLAG_SEVERITY[code]).alias("severity"),
        detail.alias("detail"),
        pl.lit(label).alias("ruleset"),
    )


def build_flags(decided: pl.DataFrame, ruleset: Ruleset) -> pl.DataFrame:
    """All flags of the decided frame, grouped by code in FLAG_SEVERITY order."""
    # Lazy, so that each filter only touches the few columns its flag reads.
    frame = decided.lazy()
    label = ruleset.label
    text = flag_details(ruleset)
    meno = pl.when(pl.col("age_years") >= ruleset.basis.menopause_assumed_age)
    no_site = pl.when(fired_col("BASIS-WHO"))
    parts = [
        _flag(frame, fired_col("MENO-ASSUMED"), "MENOPAUSE_ASSUMED",
              meno.then(pl.lit(text["MENOPAUSE_ASSUMED_POST"]))
              .otherwise(pl.lit(text["MENOPAUSE_ASSUMED_PRE"])), label),
        _flag(frame, fired_col("MENO-UNKNOWN-LOW-BMD"), "MENOPAUSE_UNKNOWN_LOW_BMD",
              pl.lit(text["MENOPAUSE_UNKNOWN_LOW_BMD"]), label),
        _flag(frame, fired_col("BASIS-PEDIATRIC"), "PEDIATRIC_NOT_ASSESSED",
              pl.lit(text["PEDIATRIC_NOT_ASSESSED"]), label),
        _flag(frame, fired_col("SITE-SPINE-MIN2"), "SPINE_TOO_FEW_VERTEBRAE",
              pl.lit(text["SPINE_TOO_FEW_VERTEBRAE"]), label),
        _flag(frame, not_computed_detail().is_not_null(), "T_SCORE_NOT_COMPUTED",
              not_computed_detail(), label),
        _flag(frame, pl.col(NO_SITE), "NO_DIAGNOSTIC_SITE",
              no_site.then(pl.lit(text["NO_DIAGNOSTIC_SITE_T"]))
              .otherwise(pl.lit(text["NO_DIAGNOSTIC_SITE_Z"])), label),
        *(
            _flag(frame, mask, code, pl.lit(text[code]), label)
            for code, mask in (
                ("VERTEBRAL_FX_NORMAL_BMD",
                 fired_col("TX-VERTEBRAL-FX") & pl.col(tx_category("normal"))),
                ("FRACTURE_SITE_UNKNOWN", fired_col("BHOF-FX-SITE-UNKNOWN")),
                ("ON_TREATMENT_NO_INDICATION",
                 no_indication_on_treatment(ruleset) & ~very_high_risk.any_line()),
                ("FRACTURE_ON_Z_BASIS", fired_col("WORKUP-Z-FRACTURE")),
                ("SAME_DAY_EXAMS", pl.col("hx_same_day").fill_null(False)),
                ("FRACTURE_HISTORY_CONFLICT", pl.col("hx_fracture_conflict").fill_null(False)),
                ("GLUCOCORTICOID_RISK_REVIEW", fired_col("GC-RISK-REVIEW")),
            )
        ),
        _flag(frame, very_high_risk.any_line(), "VERY_HIGH_RISK", very_high_risk.detail(),
              label),
    ]
    # RISK_FACTORS_INCOMPLETE: the detail text is built once per distinct missing-mask.
    missing = (
        frame.select(pl.col("exam_id"), missing_mask(ruleset).alias(_MISSING))
        .filter(pl.col(_MISSING) != 0)
        .collect()
    )
    details = missing.select(pl.col(_MISSING).unique()).with_columns(
        missing_detail(pl.col(_MISSING)).alias("detail")
    ).rechunk()
    parts.append(
        missing.join(details, on=_MISSING, how="left", maintain_order="left").select(
            pl.col("exam_id"),
            pl.lit("RISK_FACTORS_INCOMPLETE").alias("code"),
            pl.lit(FLAG_SEVERITY["RISK_FACTORS_INCOMPLETE"]).alias("severity"),
            pl.col("detail"),
            pl.lit(label).alias("ruleset"),
        )
        .lazy()
    )
    return pl.concat(parts).collect().cast(FLAG_SCHEMA)
