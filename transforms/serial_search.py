"""Which earlier exams a serial exam is compared with: prior and baseline, like with like.

clinical-rules.md §7: an exam's site is compared only with earlier exams of the same
patient and site made on the same scanner (CHG-SAME-SCANNER) of the same region
(CHG-SAME-REGION): the same hip, the same number of vertebrae. Among those, the prior
exam is the most recent (CHG-PRIOR) and the baseline the first (CHG-BASELINE).

The region of a result (`_region`): the hip side for the hip sites, the vertebra count
for the spine (blank = the contract's default of 4, so it always counts as recorded),
one region for the radius. A hip result whose side is not recorded is comparable with
either side (the comparison is then marked unverified): it is copied once into the
left-hip and once into the right-hip group (`_copy`), so that every group is matched
exactly and a known side still sees the unknown-side exams of its group. A copied exam
looked up twice keeps the later prior and the earlier baseline of its two copies.

Order (documented choice): exams are ordered by (exam_date, exam_id). The prior exam is
the latest exam on the latest strictly earlier date (a tie on that date: the greatest
exam_id, as `v_latest_assessment`); the baseline the first exam (a tie on the first
date: the smallest exam_id). Two exams on one date are never compared (a same-day
repeat is a precision measurement, not a change).

Everything is one sort and a few shifts and gathers (no join) for the lookups, plus two
window minima that tell an exam with no comparable exam whether it has earlier exams on
another scanner (SCANNER_CHANGED) or on this scanner of another region (REGION_CHANGED).
"""

from __future__ import annotations

from typing import Final

import polars as pl

HIP_SITES: Final = ("total_hip", "femoral_neck")
SIDES: Final = ("left", "right")

#: The exams one site is compared within: same patient, site, scanner and region.
GROUP: Final = ("patient_id", "site", "scanner_serial", "_region")
#: Columns of the prior and baseline exams taken along (as prior_* and baseline_*).
LOOKED_UP: Final = ("exam_id", "exam_date", "bmd_g_cm2", "hip_side")
#: Per judged row: the earliest exam date of its site, on any scanner / on its scanner.
EARLIEST: Final = ("_first_any", "_first_same_scanner")


def _same_as(offset: int, *cols: str) -> pl.Expr:
    """True where the row `offset` away has equal values in `cols` (False at the edges,
    and where a value is null: a missing serial never matches)."""
    return pl.all_horizontal(pl.col(c) == pl.col(c).shift(offset) for c in cols).fill_null(
        False
    )


def with_region(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Add `_region` and `_copy`: hip rows of unknown side become one row per side."""
    hip = pl.col("site").is_in(HIP_SITES)
    region = (
        pl.when(hip)
        .then(pl.col("hip_side"))
        .when(pl.col("site") == "spine")
        .then(pl.col("vertebrae").cast(pl.String))
        .otherwise(pl.lit(""))
    )
    unknown = hip & pl.col("hip_side").is_null()
    rows = rows.with_columns(region.alias("_region"), pl.lit(False).alias("_copy"))
    copies = [
        rows.filter(unknown).with_columns(pl.lit(side).alias("_region"), pl.lit(True)
                                          .alias("_copy"))
        for side in SIDES
    ]
    return pl.concat([rows.filter(~unknown), *copies])


def _with_lookups(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each row with the prior and baseline exam of its group (null when none).

    Sorted by group, date, exam_id: the row just before a (group, date) run is the last
    exam of the previous date, and the group's first row is its first exam; every row of
    a same-day run shares both.
    """
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    group_start = pl.when(~_same_as(1, *GROUP)).then(position).forward_fill()
    day_start = pl.when(~_same_as(1, *GROUP, "exam_date")).then(position).forward_fill()
    has_prior = _same_as(1, *GROUP).gather(pl.col("_day_start"))
    prior_row = (pl.col("_day_start") - 1).clip(0)
    # (patient, site) and (patient, site, scanner) are prefixes of the sort: contiguous
    # runs, numbered so that their minima are windows over one integer key; a running
    # count never decreases, and saying so lets the windows skip hashing (~3x cheaper)
    site_run = (~_same_as(1, "patient_id", "site")).cum_sum().set_sorted()
    scanner_run = (~_same_as(1, "patient_id", "site", "scanner_serial")).cum_sum().set_sorted()
    return (
        rows.sort([*GROUP, "exam_date", "exam_id"])
        .with_columns(
            day_start.alias("_day_start"),
            group_start.alias("_group_start"),
            site_run.alias("_site_run"),
            scanner_run.alias("_scanner_run"),
        )
        .with_columns(
            *(pl.when(has_prior).then(pl.col(c).gather(prior_row)).alias(f"prior_{c}")
              for c in LOOKED_UP),
            *(pl.when(has_prior).then(pl.col(c).gather(pl.col("_group_start")))
              .alias(f"baseline_{c}") for c in LOOKED_UP),
            pl.col("exam_date").min().over("_site_run").alias("_first_any"),
            pl.when(pl.col("scanner_serial").is_not_null())
            .then(pl.col("exam_date").min().over("_scanner_run"))
            .alias("_first_same_scanner"),
        )
        .drop("_day_start", "_group_start", "_site_run", "_scanner_run")
    )


def _merge_copies(copies: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """One row per copied exam and site: the later prior, the earlier baseline."""
    prior = [f"prior_{c}" for c in LOOKED_UP]
    baseline = [f"baseline_{c}" for c in LOOKED_UP]
    own = [c for c in columns if c not in (*prior, *baseline, "exam_id", "site")]
    return copies.group_by("exam_id", "site").agg(
        *(pl.col(c).first() for c in own),
        *(pl.col(c).sort_by("prior_exam_date", "prior_exam_id", nulls_last=False).last()
          for c in prior),
        *(pl.col(c).sort_by("baseline_exam_date", "baseline_exam_id", nulls_last=True).first()
          for c in baseline),
    ).select(columns)


def comparable_exams(regions: pl.LazyFrame) -> pl.LazyFrame:
    """The judged rows (`_judge`) with prior_* and baseline_* exams (null: none
    comparable) and the earliest dates of EARLIEST, one row per exam and site.

    `regions`: `with_region` of the measurement rows of every exam that may take part
    (INPUT_SCHEMA plus `_judge`; `vertebrae` filled for the spine and null elsewhere,
    `hip_side` null except on the hip sites).
    """
    looked_up = _with_lookups(regions).filter("_judge")
    columns = looked_up.collect_schema().names()
    return pl.concat([
        looked_up.filter(~pl.col("_copy")),
        _merge_copies(looked_up.filter("_copy"), columns).with_columns(
            pl.lit(None, dtype=pl.String).alias("_region")),
    ])


def earlier_regions(unmatched: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """For exams with earlier exams on their scanner but none of their region: the
    regions those earlier exams were of (sorted, distinct), as `_other_regions`.

    A join, but only of these few exams with their patient's exams at that site.
    """
    key = ["patient_id", "site", "scanner_serial"]
    others = regions.select(
        *key, pl.col("exam_date").alias("_other_date"), pl.col("_region").alias("_other")
    )
    return (
        unmatched.select("exam_id", *key, "exam_date")
        .join(others, on=key, how="inner")
        .filter(pl.col("_other_date") < pl.col("exam_date"))
        .group_by("exam_id", "site")
        .agg(pl.col("_other").unique().sort().alias("_other_regions"))
    )
