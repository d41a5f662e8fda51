"""Reshape an exam's per-site columns into one measurement row per exam and site."""

from __future__ import annotations

import polars as pl

from schemas.columns import SITES

MEASUREMENT_COLUMNS = ("exam_id", "site", "bmd_g_cm2", "t_score", "z_score", "hip_side",
                       "vertebrae")


def to_measurements(exams: pl.DataFrame) -> pl.DataFrame:
    """One row per exam and measured site (a site with no BMD, T or Z gives no row).

    The rows of the `measurements` view (migration 005), in memory: tests/test_store.py
    holds the two equal. Vectorized: one select per site, concatenated.
    """
    parts = []
    for site in SITES:
        parts.append(
            exams.select(
                pl.col("exam_id"),
                pl.lit(site).alias("site"),
                pl.col(f"{site}_bmd").alias("bmd_g_cm2"),
                pl.col(f"{site}_t").alias("t_score"),
                pl.col(f"{site}_z").alias("z_score"),
                *_region_columns(site),
            )
        )
    long = pl.concat(parts)
    measured = pl.any_horizontal(pl.col("bmd_g_cm2", "t_score", "z_score").is_not_null())
    return long.filter(measured)


#: Exam columns serial comparison needs beside each measurement.
SERIAL_KEYS = ("patient_id", "exam_date", "scanner_serial", "on_treatment")

#: Exam columns `serial_input` reads: the serial keys, each site's BMD and the region
#: scanned (hip side, spine vertebrae: CHG-SAME-REGION).
SERIAL_EXAM_COLUMNS = (
    "exam_id", *SERIAL_KEYS, *(f"{site}_bmd" for site in SITES), "hip_side", "spine_vertebrae",
)


def serial_input(exams: pl.DataFrame) -> pl.DataFrame:
    """One row per exam and site with a BMD, with what serial comparison needs.

    Serial comparison looks at BMD only (CHG-BMD-NOT-T), so this is the narrow cousin of
    `to_measurements`: the same (exam, site) rows where the BMD is recorded, without the
    scores, with the same `hip_side` and `vertebrae` columns. `exams` needs
    SERIAL_EXAM_COLUMNS only (registry history is read that way).
    """
    return pl.concat(
        exams.select(
            "exam_id",
            *SERIAL_KEYS,
            pl.lit(site).alias("site"),
            pl.col(f"{site}_bmd").alias("bmd_g_cm2"),
            *_region_columns(site),
        ).filter(pl.col("bmd_g_cm2").is_not_null())
        for site in SITES
    )


def _region_columns(site: str) -> list[pl.Expr]:
    """`hip_side` (hip sites) and `vertebrae` (spine, 4 when not given), null elsewhere:
    the columns of the `measurements` view (migration 005)."""
    hip = site in ("total_hip", "femoral_neck")
    return [
        (pl.col("hip_side") if hip else pl.lit(None, dtype=pl.String)).alias("hip_side"),
        (
            pl.col("spine_vertebrae").fill_null(4).cast(pl.Int64)
            if site == "spine"
            else pl.lit(None, dtype=pl.Int64)
        ).alias("vertebrae"),
    ]
