"""Text and list outputs, derived from the fired bits once per distinct combination.

Every fired rule is one bit of a UInt64 key (catalog order), the diagnostic site code sits
above them, and the key alone determines basis, site, categories, treatment, therapy and
the three lists. Building list columns row by row is the slow part of a vectorized
engine, so they are built once per distinct key (hundreds to tens of thousands, against
millions of rows) and joined back.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.catalog import DECISION_RULE_IDS
from transforms.rules.followup import lifestyle_list
from transforms.rules.lists import labels
from transforms.rules.names import KEY, SITE, SITE_ORDER, fired, fired_col
from transforms.rules.risk import RF_IDS
from transforms.rules.ruleset import Ruleset
from transforms.rules.treatment import therapy_text, treatment_text

#: Bit position of the site code in the key (one bit per decision rule below it).
SITE_SHIFT = len(DECISION_RULE_IDS)
assert SITE_SHIFT + 3 <= 64, "fired bits and site code must fit in a UInt64 key"


def key_expr() -> pl.Expr:
    """The UInt64 key of a decided row: fired bits plus the site code."""
    zero = pl.lit(0, dtype=pl.UInt64)
    # when/then literals are about twice as fast as casting and multiplying.
    bits = [
        pl.when(fired_col(rule)).then(pl.lit(1 << i, dtype=pl.UInt64)).otherwise(zero)
        for i, rule in enumerate(DECISION_RULE_IDS)
    ]
    site = pl.col(SITE).cast(pl.UInt64) * (1 << SITE_SHIFT)
    return pl.sum_horizontal([*bits, site]).alias(KEY)


def _ids(rule_ids: tuple[str, ...]) -> pl.Expr:
    """List of the given rule IDs that fired, in the given order."""
    return labels([(fired_col(rule), rule) for rule in rule_ids])


def lookup(keys: pl.DataFrame, ruleset: Ruleset) -> pl.DataFrame:
    """Text and list outputs for each distinct key (a small frame)."""
    key = pl.col(KEY)
    expanded = keys.with_columns(
        *[((key & (1 << i)) != 0).alias(fired(rule)) for i, rule in enumerate(DECISION_RULE_IDS)],
        (key // (1 << SITE_SHIFT)).cast(pl.UInt8).alias(SITE),
    )
    who_ok = fired_col("SITE-LOWEST") & fired_col("BASIS-WHO")
    z_ok = fired_col("SITE-LOWEST") & fired_col("BASIS-ISCD-Z")
    site = pl.lit(None, dtype=pl.String)
    for code, name in enumerate(SITE_ORDER, start=1):
        site = pl.when(pl.col(SITE) == code).then(pl.lit(name)).otherwise(site)
    with_treatment = expanded.with_columns(
        pl.when(who_ok)
        .then(pl.lit("who_t_score"))
        .when(z_ok)
        .then(pl.lit("iscd_z_score"))
        .otherwise(pl.lit("not_assessed"))
        .alias("basis"),
        site.alias("diagnostic_site"),
        pl.when(fired_col("WHO-OSTEOPOROSIS"))
        .then(pl.lit("osteoporosis"))
        .when(fired_col("WHO-OSTEOPENIA"))
        .then(pl.lit("osteopenia"))
        .when(fired_col("WHO-NORMAL"))
        .then(pl.lit("normal"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("who_category"),
        pl.when(fired_col("Z-BELOW"))
        .then(pl.lit("below_expected_range"))
        .when(fired_col("Z-WITHIN"))
        .then(pl.lit("within_expected_range"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("z_category"),
        _ids(RF_IDS).alias("high_risk_features"),
        treatment_text(ruleset, who_ok).alias("treatment"),
        _ids(DECISION_RULE_IDS).alias("reasons"),
        lifestyle_list().alias("lifestyle"),
    )
    # One chunk: gathering list columns from a many-chunk table is ~7x slower.
    return with_treatment.select(
        key,
        "basis",
        "diagnostic_site",
        "who_category",
        "z_category",
        "high_risk_features",
        pl.col("high_risk_features").list.len().cast(pl.Int32).alias("risk_factor_count"),
        "treatment",
        "reasons",
        therapy_text(ruleset, pl.col("treatment")).alias("first_line_therapy"),
        "lifestyle",
    ).rechunk()
