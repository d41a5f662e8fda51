"""Basis actually used, diagnostic site and score, WHO / Z category (sections 1-2).

The basis chosen by age, sex and menopause falls back to `not_assessed` when it needs a
score that no valid site has (flag NO_DIAGNOSTIC_SITE); the BASIS-* rule that chose it
still appears in `reasons`.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.cuts import at_cut
from transforms.rules.declare import ISCD, WHO, Rule
from transforms.rules.names import (
    MIN_T,
    MIN_Z,
    NO_SITE,
    SITE,
    SITE_T,
    SITE_Z,
    WHO_OK,
    Z_OK,
    fired,
    fired_col,
)
from transforms.rules.ruleset import Ruleset

RULES: tuple[Rule, ...] = (
    Rule(
        "WHO-OSTEOPOROSIS", "category",
        "WHO basis: diagnostic T <= osteoporosis_t -> osteoporosis.",
        ("diagnosis.osteoporosis_t",), WHO,
    ),
    Rule(
        "WHO-OSTEOPENIA", "category",
        "WHO basis: osteoporosis_t < T < normal_t -> osteopenia (low bone mass).",
        ("diagnosis.osteoporosis_t", "diagnosis.normal_t"), WHO,
    ),
    Rule(
        "WHO-NORMAL", "category",
        "WHO basis: T >= normal_t -> normal.",
        ("diagnosis.normal_t",), WHO,
    ),
    Rule(
        "Z-BELOW", "category",
        "Z basis: lowest valid Z <= z_threshold -> below_expected_range.",
        ("diagnosis.z_threshold",), ISCD,
    ),
    Rule(
        "Z-WITHIN", "category",
        "Z basis: lowest valid Z > z_threshold -> within_expected_range.",
        ("diagnosis.z_threshold",), ISCD,
    ),
)


def assessed_stage() -> list[pl.Expr]:
    """Whether the chosen basis found its score."""
    who, z_basis = fired_col("BASIS-WHO"), fired_col("BASIS-ISCD-Z")
    has_t, has_z = pl.col(MIN_T).is_not_null(), pl.col(MIN_Z).is_not_null()
    return [
        (who & has_t).alias(WHO_OK),
        (z_basis & has_z).alias(Z_OK),
        ((who & ~has_t) | (z_basis & ~has_z)).alias(NO_SITE),
    ]


def diagnosis_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Diagnostic scores and site code, and the fired columns of SITE-LOWEST, WHO-*, Z-*."""
    d = ruleset.diagnosis
    who_ok, z_ok = pl.col(WHO_OK), pl.col(Z_OK)
    t, z = at_cut(pl.col(MIN_T)), at_cut(pl.col(MIN_Z))  # stored as reported, compared at cut
    return [
        pl.when(who_ok)
        .then(pl.col(SITE_T))
        .when(z_ok)
        .then(pl.col(SITE_Z))
        .otherwise(pl.lit(0, dtype=pl.UInt8))
        .alias(SITE),
        pl.when(who_ok).then(pl.col(MIN_T)).alias("diagnostic_t_score"),
        pl.col(MIN_Z).alias("diagnostic_z_score"),
        (who_ok | z_ok).alias(fired("SITE-LOWEST")),
        (who_ok & (t <= d.osteoporosis_t)).alias(fired("WHO-OSTEOPOROSIS")),
        (who_ok & (t > d.osteoporosis_t) & (t < d.normal_t)).alias(fired("WHO-OSTEOPENIA")),
        (who_ok & (t >= d.normal_t)).alias(fired("WHO-NORMAL")),
        (z_ok & (z <= d.z_threshold)).alias(fired("Z-BELOW")),
        (z_ok & (z > d.z_threshold)).alias(fired("Z-WITHIN")),
    ]
