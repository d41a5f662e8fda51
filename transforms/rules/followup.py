"""Outputs beside the treatment (clinical-rules.md section 6): secondary-cause workup,
VFA, next DXA date and the LIFESTYLE rule."""

from __future__ import annotations

import polars as pl

from transforms.rules.declare import ARTICLE, ISCD, REPORT_VIEWS, SPEC, Rule
from transforms.rules.lists import labels
from transforms.rules.names import MIN_Z, RECOMMENDED, fired, fired_col
from transforms.rules.ruleset import Ruleset

RULES: tuple[Rule, ...] = (
    Rule(
        "WORKUP-LOW-Z", "output",
        "secondary_cause_workup: any valid site with Z <= z_threshold, at any age and on "
        "any basis (the article's caveat for the young; a normal Z reads as 'no secondary "
        "cause suggested').",
        ("diagnosis.z_threshold",), f"{ARTICLE}; {ISCD}",
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
        "MON-TREATED", "monitoring",
        "next_dxa_due = exam date + treated_months when on_treatment is true or treatment "
        "is recommended (any basis). Months are calendar months (end of month clamps).",
        ("monitoring.treated_months",), ARTICLE,
    ),
    Rule(
        "MON-UNTREATED", "monitoring",
        "Osteopenia, not on treatment (not recorded counts as not) and treatment not "
        "recommended: next_dxa_due = exam date + untreated_osteopenia_months.",
        ("monitoring.untreated_osteopenia_months",), ARTICLE,
        "Article: 2 years. Guidelines: interval by T-score, ~15 years (T > -1.5), ~5 "
        "(-1.5 to -1.99), ~1 (-2.0 to -2.49) (Gourlay, NEJM 2012).",
    ),
    Rule(
        "MON-NORMAL", "monitoring",
        "Normal BMD and MON-TREATED did not apply: next_dxa_due = exam date + "
        "normal_months, or no date when the ruleset sets none (core-2025).",
        ("monitoring.normal_months",), SPEC,
    ),
    Rule(
        "LIFESTYLE", "output",
        "Osteopenia or osteoporosis: weight_bearing_exercise, fall_prevention, "
        "calcium_1000_1200mg, vitamin_d_800_1000iu; plus smoking_cessation when "
        "RF-SMOKING fired and alcohol_reduction when RF-ALCOHOL fired. Otherwise an empty "
        "list.",
        (), ARTICLE,
    ),
    Rule(
        "MON-OVERDUE", "monitoring",
        "At report time, a patient whose latest next_dxa_due has passed with no later "
        "exam is overdue.",
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


def followup_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of WORKUP-LOW-Z, VFA-INDICATED, MON-TREATED and LIFESTYLE."""
    vfa = (
        (pl.col("height_loss_cm") > ruleset.risk.height_loss_cm).fill_null(False)
        | pl.col("kyphosis").fill_null(False)
        | pl.col("back_pain").fill_null(False)
    )
    treated = pl.col("on_treatment").fill_null(False) | pl.col(RECOMMENDED)
    return [
        (pl.col(MIN_Z) <= ruleset.diagnosis.z_threshold).fill_null(False).alias(
            fired("WORKUP-LOW-Z")
        ),
        vfa.alias(fired("VFA-INDICATED")),
        treated.alias(fired("MON-TREATED")),
        (fired_col("WHO-OSTEOPENIA") | fired_col("WHO-OSTEOPOROSIS")).alias(
            fired("LIFESTYLE")
        ),
    ]


def monitoring_stage() -> list[pl.Expr]:
    """MON-UNTREATED and MON-NORMAL: at most one MON-* rule fires, treated first."""
    untreated = ~fired_col("MON-TREATED")
    return [
        (fired_col("WHO-OSTEOPENIA") & untreated).alias(fired("MON-UNTREATED")),
        (fired_col("WHO-NORMAL") & untreated).alias(fired("MON-NORMAL")),
    ]


def _due(months: int | None) -> pl.Expr:
    if months is None:
        return pl.lit(None, dtype=pl.Date)
    return pl.col("exam_date").dt.offset_by(f"{months}mo")


def outputs_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """secondary_cause_workup, vfa_recommended and next_dxa_due."""
    m = ruleset.monitoring
    due = pl.lit(None, dtype=pl.Date)
    # Built inside out so that an interval of "none" costs nothing.
    for rule, months in (
        ("MON-NORMAL", m.normal_months),
        ("MON-UNTREATED", m.untreated_osteopenia_months),
        ("MON-TREATED", m.treated_months),
    ):
        if months is not None:
            due = pl.when(fired_col(rule)).then(_due(months)).otherwise(due)
        else:
            due = pl.when(fired_col(rule)).then(pl.lit(None, dtype=pl.Date)).otherwise(due)
    return [
        fired_col("WORKUP-LOW-Z").alias("secondary_cause_workup"),
        fired_col("VFA-INDICATED").alias("vfa_recommended"),
        due.alias("next_dxa_due"),
    ]


def lifestyle_list() -> pl.Expr:
    """The lifestyle advice list (run on the distinct fired-bit combinations only)."""
    advice = fired_col("LIFESTYLE")
    conditions = [advice] * 4 + [
        advice & fired_col("RF-SMOKING"),
        advice & fired_col("RF-ALCOHOL"),
    ]
    return labels(list(zip(conditions, LIFESTYLE_CODES, strict=True)))
