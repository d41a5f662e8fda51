"""Serial exams: the flags the comparisons raise (clinical-rules.md §7, CHG-LOSS and
CHG-SCANNER-CHANGED).

One flag per exam *and site*: the detail names the site, never an identifier.
- `SCANNER_CHANGED` (warning): the site has earlier exams, none on this scanner;
- `REGION_CHANGED` (warning): earlier exams on this scanner, none of this region (the
  detail says what differs); left, right, left hips: the third compares with the first;
- `SIGNIFICANT_BMD_LOSS` (warning), `LOSS_ON_TREATMENT` (high) when the exam says
  on_treatment: a significant decrease against the prior exam, the baseline or both:
  ONE flag per exam and site, whose detail lists each comparison that lost
  (`spine -6.1% vs previous, -11.5% vs baseline (LSC 5.3%)`), and says `region not
  verified` after a comparison where a hip side was not recorded on either exam
  (`total_hip -6.1% vs previous (region not verified) (LSC 5.0%)`).
"""

from __future__ import annotations

import polars as pl

from schemas.vocabulary import Severity
from transforms.serial_search import earlier_regions


def _text(*parts: str | pl.Expr) -> pl.Expr:
    """Text of literal parts and expressions (numbers as polars prints them).

    `pl.concat_str`, not `pl.format`: polars 2.1's format can panic ("assertion failed:
    i < self.len()") on a string column made of many chunks, such as a filtered
    concatenation; a known polars bug, open upstream. concat_str is not affected.
    """
    return pl.concat_str(
        [pl.lit(p) if isinstance(p, str) else p.cast(pl.String) for p in parts]
    )


def _flag(code: str, severity: Severity, detail: pl.Expr) -> list[pl.Expr]:
    """The columns of a flag row: code, severity and detail (site names and numbers)."""
    return [pl.col("exam_id"), pl.lit(code).alias("code"), pl.lit(severity).alias("severity"),
            detail.alias("detail")]


def loss_flags(compared: pl.LazyFrame) -> pl.LazyFrame:
    """One loss flag per exam and site whose BMD fell significantly against its prior
    exam, its baseline or both; the detail lists each (previous first), marking the
    comparisons whose region was not verified (clinical-rules.md CHG-LOSS)."""
    unverified = pl.when(pl.col("region_verified").not_()).then(
        pl.lit(" (region not verified)")).otherwise(pl.lit(""))
    part = _text(pl.col("pct_change").round(1), "% vs ", pl.col("comparison"), unverified)
    treated = pl.col("on_treatment").fill_null(False)
    return (
        compared.filter(pl.col("direction") == "decrease")
        .group_by("exam_id", "site")
        .agg(
            part.sort_by("comparison", descending=True).str.join(", ").alias("_parts"),
            pl.col("lsc_pct").first(),
            treated.first().alias("_treated"),
        )
        .select(
            pl.col("exam_id"),
            pl.when("_treated").then(pl.lit("LOSS_ON_TREATMENT"))
            .otherwise(pl.lit("SIGNIFICANT_BMD_LOSS")).alias("code"),
            pl.when("_treated").then(pl.lit(Severity.HIGH))
            .otherwise(pl.lit(Severity.WARNING))
            .alias("severity"),
            _text(pl.col("site"), " ", pl.col("_parts"), " (LSC ", pl.col("lsc_pct").round(1),
                  "%)").alias("detail"),
        )
    )


def unmatched_flags(judged: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """SCANNER_CHANGED and REGION_CHANGED for judged sites with earlier exams but none
    comparable (CHG-SCANNER-CHANGED)."""
    earlier = judged.filter(
        pl.col("prior_exam_id").is_null() & (pl.col("_first_any") < pl.col("exam_date"))
    )
    same_scanner = (pl.col("_first_same_scanner") < pl.col("exam_date")).fill_null(False)
    scanner = earlier.filter(~same_scanner).select(_flag(
        "SCANNER_CHANGED", Severity.WARNING,
        _text(pl.col("site"), pl.when(pl.col("scanner_serial").is_null())
              .then(pl.lit(": scanner serial not recorded"))
              .otherwise(pl.lit(": no earlier exam on this scanner"))),
    ))
    unmatched = earlier.filter(same_scanner)
    spine = pl.col("site") == "spine"
    unit = pl.when(spine).then(pl.lit("vertebrae")).otherwise(pl.lit("hip"))
    what = pl.when(spine).then(pl.col("vertebrae").cast(pl.String)).otherwise("hip_side")
    region = (
        unmatched.join(earlier_regions(unmatched, regions), on=["exam_id", "site"])
        .select(_flag(
            "REGION_CHANGED", Severity.WARNING,
            _text(pl.col("site"), ": ", what, " ", unit, ", earlier exams on this scanner: ",
                  pl.col("_other_regions").list.join(", "), " ", unit),
        ))
    )
    return pl.concat([scanner, region])
