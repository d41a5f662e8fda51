"""Comparing a value with a clinical cut-off (clinical-rules.md section 2, last paragraph).

A computed value that is a cut in decimal arithmetic is often a hair off it in binary
floating point (a T-score of -2.4999999999999996 from BMD, a spine-hip difference of
0.49999999999999978): every comparison with a cut-off (T- and Z-scores, FRAX, adjusted
FRAX, the spine-hip difference, the CAROC cuts) is made on the value rounded to 6 decimal
places, so that such a value counts as the cut. The stored values stay as reported.
"""

from __future__ import annotations

import polars as pl

#: Decimal places a value is rounded to before it meets a cut-off.
CUT_DECIMALS = 6


def at_cut(value: pl.Expr) -> pl.Expr:
    """`value` as a cut-off comparison reads it (rounded to CUT_DECIMALS)."""
    return value.round(CUT_DECIMALS)
