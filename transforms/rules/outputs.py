"""Text and list outputs, derived from the fired bits once per distinct combination.

Every fired rule is one bit of the key (catalog order), the diagnostic site code takes
the three bits above them, and the key alone determines basis, site, categories,
treatment, therapy and the lists. The key is as many UInt64 words as the bits need
(`KEYS`), so adding rules never overflows it. Building list columns row by row is the
slow part of a vectorized engine, so they are built once per distinct key (hundreds to
tens of thousands, against millions of rows) and joined back.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.caroc import CAROC_IDS
from transforms.rules.catalog import DECISION_RULE_IDS
from transforms.rules.followup import lifestyle_list
from transforms.rules.lists import labels
from transforms.rules.names import SITE, SITE_ORDER, fired, fired_col
from transforms.rules.risk import RF_IDS
from transforms.rules.ruleset import Ruleset
from transforms.rules.treatment import therapy_text, treatment_text

#: Bit position of the site code's lowest bit (one bit per decision rule below it).
SITE_SHIFT = len(DECISION_RULE_IDS)
_SITE_BITS = 3
_WORD = 64
#: The key's columns: one UInt64 word per 64 bits.
KEYS: tuple[str, ...] = tuple(
    f"_key{w}" for w in range((SITE_SHIFT + _SITE_BITS + _WORD - 1) // _WORD))
assert len(SITE_ORDER) < 1 << _SITE_BITS, "site codes must fit in their bits"
#: The IDs `reasons` lists: every decision rule but CAROC's, which `caroc_reasons` lists
#: (they decide nothing by themselves; under oc-2010 the OC-* line is the reason).
REASON_RULE_IDS: tuple[str, ...] = tuple(r for r in DECISION_RULE_IDS if r not in CAROC_IDS)


def _bit(position: int) -> tuple[str, pl.Expr]:
    """(word column, the bit's UInt64 literal) of a bit position."""
    return KEYS[position // _WORD], pl.lit(1 << (position % _WORD), dtype=pl.UInt64)


def _bits() -> list[tuple[int, pl.Expr]]:
    """(bit position, condition) of every bit: the fired rules, then the site code's."""
    site = pl.col(SITE)
    return [
        *((i, fired_col(rule)) for i, rule in enumerate(DECISION_RULE_IDS)),
        *((SITE_SHIFT + j, (site & (1 << j)) != 0) for j in range(_SITE_BITS)),
    ]


def key_exprs() -> list[pl.Expr]:
    """The key words of a decided row: fired bits plus the site code."""
    zero = pl.lit(0, dtype=pl.UInt64)
    words: dict[str, list[pl.Expr]] = {name: [zero] for name in KEYS}
    for position, condition in _bits():
        # when/then literals are about twice as fast as casting and multiplying.
        word, value = _bit(position)
        words[word].append(pl.when(condition).then(value).otherwise(zero))
    return [pl.sum_horizontal(parts).alias(name) for name, parts in words.items()]


def _is_set(position: int) -> pl.Expr:
    word, value = _bit(position)
    return (pl.col(word) & value) != 0


def _ids(rule_ids: tuple[str, ...]) -> pl.Expr:
    """List of the given rule IDs that fired, in the given order."""
    return labels([(fired_col(rule), rule) for rule in rule_ids])


def lookup(keys: pl.DataFrame, ruleset: Ruleset) -> pl.DataFrame:
    """Text and list outputs for each distinct key (a small frame)."""
    site_code = pl.sum_horizontal(
        [_is_set(SITE_SHIFT + j).cast(pl.UInt8) * (1 << j) for j in range(_SITE_BITS)])
    expanded = keys.with_columns(
        *[_is_set(i).alias(fired(rule)) for i, rule in enumerate(DECISION_RULE_IDS)],
        site_code.cast(pl.UInt8).alias(SITE),
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
        _ids(REASON_RULE_IDS).alias("reasons"),
        _ids(CAROC_IDS).alias("caroc_reasons"),
        lifestyle_list().alias("lifestyle"),
    )
    # One chunk: gathering list columns from a many-chunk table is ~7x slower.
    return with_treatment.select(
        *KEYS,
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
        "caroc_reasons",
    ).rechunk()
