"""Serial exams: the comparisons of a judged exam and their verdicts (clinical-rules.md §7).

`transforms.serial_search` finds each judged exam's prior exam and baseline; here each
becomes a comparison row (`comparison_rows`: `previous`, and `baseline` where the baseline is not
the prior exam itself), and each comparison gets its percent change, LSC, significance,
direction and days between (`with_verdicts`, CHG-LSC, CHG-BMD-NOT-T).

Numbers (documented choice): pct_change = 100 x (bmd - prior) / prior and lsc_pct are
rounded to 6 decimals before the verdict, so that a change exactly at the LSC (which the
spec says is *not* significant) is not flipped by binary floating-point noise. A prior
BMD that is not positive gives a null pct_change (and so no verdict).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from transforms.precision import LSC_FACTOR, PrecisionTable
from transforms.serial_search import HIP_SITES

#: `bmd_changes.comparison`: against the prior exam (CHG-PRIOR), the baseline (CHG-BASELINE).
COMPARISONS: Final = ("previous", "baseline")

#: Decimals kept for pct_change and lsc_pct (see module docstring).
DECIMALS: Final = 6


def _with_lsc(pairs: pl.LazyFrame, precision: PrecisionTable) -> pl.LazyFrame:
    """Add lsc_pct and lsc_source: the scanner's own precision for the site
    (`precision_study`), else the default (`default`), else null (no LSC known)."""
    table = precision.as_frame().lazy()
    by_scanner = table.filter(pl.col("scanner_serial").is_not_null()).rename(
        {"precision_pct": "_scanner_pct"}
    )
    default = table.filter(pl.col("scanner_serial").is_null()).select(
        "site", pl.col("precision_pct").alias("_default_pct")
    )
    source = (
        pl.when(pl.col("_scanner_pct").is_not_null())
        .then(pl.lit("precision_study"))
        .when(pl.col("_default_pct").is_not_null())
        .then(pl.lit("default"))
    )
    return (
        pairs.join(by_scanner, on=["scanner_serial", "site"], how="left")
        .join(default, on="site", how="left")
        .with_columns(
            (LSC_FACTOR * pl.coalesce("_scanner_pct", "_default_pct"))
            .round(DECIMALS)
            .alias("lsc_pct"),
            source.alias("lsc_source"),
        )
        .drop("_scanner_pct", "_default_pct")
    )


def comparison_rows(judged: pl.LazyFrame) -> pl.LazyFrame:
    """One row per judged exam, site and comparison: `previous`, and `baseline` where the
    baseline is not the prior exam itself."""
    own = ["exam_id", "site", "scanner_serial", "on_treatment", "exam_date", "bmd_g_cm2",
           "hip_side"]
    compared = judged.filter(pl.col("prior_exam_id").is_not_null())
    parts = []
    for comparison in COMPARISONS:
        prefix = "prior" if comparison == "previous" else "baseline"
        part = compared if comparison == "previous" else compared.filter(
            pl.col("baseline_exam_id") != pl.col("prior_exam_id"))
        parts.append(part.select(
            *own,
            pl.lit(comparison).alias("comparison"),
            *(pl.col(f"{prefix}_{c}").alias(f"prior_{c}")
              for c in ("exam_id", "exam_date", "bmd_g_cm2", "hip_side")),
        ))
    return pl.concat(parts)


def with_verdicts(pairs: pl.LazyFrame, precision: PrecisionTable) -> pl.LazyFrame:
    """Percent change, LSC, significance, direction, days and region check per pair."""
    prior = pl.col("prior_bmd_g_cm2")
    pct = pl.when(prior > 0).then(100 * (pl.col("bmd_g_cm2") - prior) / prior).round(DECIMALS)
    significant = pl.col("pct_change").abs() > pl.col("lsc_pct")
    unverified = pl.col("site").is_in(HIP_SITES) & (
        pl.col("hip_side").is_null() | pl.col("prior_hip_side").is_null()
    )
    return (
        _with_lsc(pairs, precision)
        .with_columns(pct.alias("pct_change"), (~unverified).alias("region_verified"))
        .with_columns(significant.alias("significant"))
        .with_columns(
            pl.when(pl.col("significant") & (pl.col("pct_change") < 0))
            .then(pl.lit("decrease"))
            .when(pl.col("significant"))
            .then(pl.lit("increase"))
            .when(~pl.col("significant"))
            .then(pl.lit("stable"))
            .alias("direction"),
            (pl.col("exam_date") - pl.col("prior_exam_date"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_between"),
        )
    )
