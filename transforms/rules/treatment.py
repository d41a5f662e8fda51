"""Treatment decision on the WHO basis (clinical-rules.md sections 4-5).

The lines are evaluated in order: the first matching line sets `treatment`, every
matching line adds its ID to `reasons`. Which lines exist, their thresholds and the level
each sets all come from the ruleset, so core-2025 and bhof-2022 share this code.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from transforms.rules.names import MIN_T, RECOMMENDED, WHO_OK, fired, fired_col
from transforms.rules.risk import RF_IDS
from transforms.rules.ruleset import Ruleset

TX_IDS: tuple[str, ...] = (
    "TX-FRAGILITY-FX",
    "TX-OSTEOPOROSIS",
    "TX-VERTEBRAL-FX",
    "TX-FRAX-HIGH",
    "TX-RISK-FEATURES",
    "TX-FRAX-MISSING",
    "TX-LOW-RISK",
    "TX-NORMAL",
)
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
        [fired_col(rule) for rule in TX_IDS[:5]]
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
