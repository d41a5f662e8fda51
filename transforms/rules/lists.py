"""Build list-of-label columns from boolean conditions, fast.

`pl.concat_list` of when/then literals costs microseconds per row; joining the labels
into one string and splitting it is an order of magnitude faster. Labels never contain
the separator.
"""

from __future__ import annotations

import polars as pl

SEPARATOR = "|"
EMPTY = pl.lit([], dtype=pl.List(pl.String))


def labels(items: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """List of the labels whose condition is true, in the given order (never null)."""
    assert all(SEPARATOR not in label for _, label in items)
    joined = pl.concat_str(
        [pl.when(condition).then(pl.lit(label)) for condition, label in items],
        separator=SEPARATOR,
        ignore_nulls=True,
    )
    return pl.when(joined == "").then(EMPTY).otherwise(joined.str.split(SEPARATOR))
