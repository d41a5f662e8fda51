"""Treatment decision on the WHO basis (clinical-rules.md sections 4-5).

The lines are evaluated in order: the first matching line sets `treatment`, every
matching line adds its ID to `reasons`. Which lines exist, their thresholds and the level
each sets all come from the ruleset, so core-2025 and bhof-2022 share this code.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from transforms.rules.declare import ARTICLE, BHOF, Rule, ids
from transforms.rules.names import MIN_T, RECOMMENDED, WHO_OK, fired, fired_col
from transforms.rules.risk import RF_IDS
from transforms.rules.ruleset import Ruleset

RULES: tuple[Rule, ...] = (
    Rule(
        "TX-FRAGILITY-FX", "indication",
        "WHO basis, prior fragility fracture (any T-score). TX lines are evaluated in "
        "order on the WHO basis: the first matching line sets treatment, every matching "
        "line adds its ID. A line whose level is none is off (never matches). If no line "
        "matches (only possible when a ruleset switches lines off): not_indicated. Other "
        "bases: not_applicable.",
        ("treatment.fragility_fracture",), f"{ARTICLE}; {BHOF}",
    ),
    Rule(
        "TX-OSTEOPOROSIS", "indication",
        "WHO osteoporosis.",
        ("treatment.osteoporosis",), f"{ARTICLE}; {BHOF}",
    ),
    Rule(
        "TX-VERTEBRAL-FX", "indication",
        "Radiographic vertebral fracture with a WHO category in "
        "vertebral_fracture_categories and T <= vertebral_fracture_t_limit (none: any T).",
        (
            "treatment.vertebral_fracture",
            "treatment.vertebral_fracture_categories",
            "treatment.vertebral_fracture_t_limit",
        ),
        ARTICLE,
        "Article: consider if osteopenia with T <= -1.6. BHOF: a hip or vertebral "
        "fragility fracture qualifies at any T-score (ruleset bhof-2022).",
    ),
    Rule(
        "TX-FRAX-HIGH", "indication",
        "Osteopenia with FRAX hip >= frax_hip_pct or FRAX major osteoporotic >= "
        "frax_major_pct (either one recorded and high is enough).",
        ("treatment.frax_high", "treatment.frax_hip_pct", "treatment.frax_major_pct"),
        ARTICLE,
        "Article: FRAX hip >= 5%. Guidelines: hip >= 3% (BHOF 2022; ruleset bhof-2022).",
    ),
    Rule(
        "TX-RISK-FEATURES", "indication",
        "Osteopenia and at least one high-risk feature (risk_factor_count >= 1); off "
        "(none) where features are reported but do not change the decision (bhof-2022).",
        ("treatment.risk_features",), ARTICLE,
    ),
    Rule(
        "TX-FRAX-MISSING", "fallback",
        "Osteopenia, no TX line above matched, FRAX hip or major not recorded -> "
        "needs_risk_assessment.",
        (), ARTICLE,
    ),
    Rule(
        "TX-LOW-RISK", "fallback",
        "Osteopenia, no TX line above matched, both FRAX values recorded (and so low) -> "
        "not_indicated.",
        ("treatment.frax_hip_pct", "treatment.frax_major_pct"), ARTICLE,
    ),
    Rule(
        "TX-NORMAL", "fallback",
        "Normal BMD and no fragility fracture -> not_indicated. Read literally (every "
        "matching line is a reason), it also adds its ID when an earlier line already set "
        "the treatment: under bhof-2022 a radiographic vertebral fracture with normal BMD "
        "is recommended, with both TX-VERTEBRAL-FX and TX-NORMAL in reasons. "
        "first_line_therapy is the ruleset's text where treatment is recommended or "
        "consider, else null.",
        ("treatment.first_line_therapy",), ARTICLE,
    ),
)
TX_IDS: tuple[str, ...] = ids(RULES)
#: The lines every matching one of which is a reason (the ruleset sets their levels).
INDICATION_IDS: tuple[str, ...] = ids(tuple(r for r in RULES if r.kind == "indication"))
#: Levels of the fixed lines (the ruleset sets the first five).
FIXED_LEVELS = {
    "TX-FRAX-MISSING": "needs_risk_assessment",
    "TX-LOW-RISK": "not_indicated",
    "TX-NORMAL": "not_indicated",
}
#: WHO basis where no line matches (only reachable when a ruleset switches a line off).
FALLBACK = "not_indicated"
NOT_APPLICABLE = "not_applicable"
#: Treatments that carry first_line_therapy.
ACTIVE = ("recommended", "consider")
#: WHO category -> the fired column that says so.
CATEGORY_RULE = {
    "osteoporosis": "WHO-OSTEOPOROSIS",
    "osteopenia": "WHO-OSTEOPENIA",
    "normal": "WHO-NORMAL",
}


def line_levels(ruleset: Ruleset) -> dict[str, str | None]:
    """The level each TX line sets in this ruleset (None: the line is switched off)."""
    t = ruleset.treatment
    return {
        "TX-FRAGILITY-FX": t.fragility_fracture,
        "TX-OSTEOPOROSIS": t.osteoporosis,
        "TX-VERTEBRAL-FX": t.vertebral_fracture,
        "TX-FRAX-HIGH": t.frax_high,
        "TX-RISK-FEATURES": t.risk_features,
        **FIXED_LEVELS,
    }


def lines_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of the ruleset-controlled TX-* lines (the first five)."""
    t = ruleset.treatment
    levels = line_levels(ruleset)
    who = pl.col(WHO_OK)
    osteopenia = fired_col("WHO-OSTEOPENIA")
    hip, major = pl.col("frax_hip_pct"), pl.col("frax_major_pct")
    in_category = pl.any_horizontal(
        [fired_col(CATEGORY_RULE[c]) for c in t.vertebral_fracture_categories]
    )
    vertebral = in_category & fired_col("RF-VERTEBRAL-FX")
    if t.vertebral_fracture_t_limit is not None:
        vertebral = vertebral & (pl.col(MIN_T) <= t.vertebral_fracture_t_limit).fill_null(
            False
        )
    conditions: dict[str, pl.Expr] = {
        "TX-FRAGILITY-FX": who & fired_col("RF-FRAGILITY-FX"),
        "TX-OSTEOPOROSIS": fired_col("WHO-OSTEOPOROSIS"),
        "TX-VERTEBRAL-FX": vertebral,
        "TX-FRAX-HIGH": osteopenia
        & ((hip >= t.frax_hip_pct) | (major >= t.frax_major_pct)).fill_null(False),
        "TX-RISK-FEATURES": osteopenia & pl.any_horizontal([fired_col(r) for r in RF_IDS]),
    }
    return [
        (condition if levels[rule] is not None else pl.lit(False)).alias(fired(rule))
        for rule, condition in conditions.items()
    ]


def fixed_lines_stage() -> list[pl.Expr]:
    """TX-FRAX-MISSING, TX-LOW-RISK (only when nothing above fired) and TX-NORMAL."""
    open_osteopenia = fired_col("WHO-OSTEOPENIA") & ~pl.any_horizontal(
        [fired_col(rule) for rule in INDICATION_IDS]
    )
    frax_missing = pl.col("frax_hip_pct").is_null() | pl.col("frax_major_pct").is_null()
    return [
        (open_osteopenia & frax_missing).alias(fired("TX-FRAX-MISSING")),
        (open_osteopenia & ~frax_missing).alias(fired("TX-LOW-RISK")),
        (fired_col("WHO-NORMAL") & ~fired_col("RF-FRAGILITY-FX")).alias(fired("TX-NORMAL")),
    ]


def _first_line(ruleset: Ruleset, who_ok: pl.Expr, value: Callable[[str], pl.Expr]) -> pl.Expr:
    """`value(level)` of the first matching TX line; `value(NOT_APPLICABLE)` off-basis."""
    levels = line_levels(ruleset)
    expr = pl.when(~who_ok).then(value(NOT_APPLICABLE))
    for rule in TX_IDS:
        level = levels[rule]
        if level is not None:
            expr = expr.when(fired_col(rule)).then(value(level))
    return expr.otherwise(value(FALLBACK))


def recommended_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Per row: is the treatment `recommended` (MON-TREATED needs it)."""
    return [
        _first_line(ruleset, pl.col(WHO_OK), lambda level: pl.lit(level == "recommended"))
        .alias(RECOMMENDED)
    ]


def treatment_text(ruleset: Ruleset, who_ok: pl.Expr) -> pl.Expr:
    """The `treatment` column (run on the distinct fired-bit combinations only)."""
    return _first_line(ruleset, who_ok, pl.lit)


def therapy_text(ruleset: Ruleset, treatment: pl.Expr) -> pl.Expr:
    """first_line_therapy where treatment is recommended or consider, else null."""
    return (
        pl.when(treatment.is_in(list(ACTIVE)))
        .then(pl.lit(ruleset.treatment.first_line_therapy))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
