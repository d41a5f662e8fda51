"""Reshape an exam's per-site columns into one measurement row per exam and site."""

from __future__ import annotations

import polars as pl

from transforms.columns import SITES

MEASUREMENT_COLUMNS = ("exam_id", "site", "bmd_g_cm2", "t_score", "z_score", "hip_side",
                       "vertebrae")


def to_measurements(exams: pl.DataFrame) -> pl.DataFrame:
    """One row per exam and measured site (a site with no BMD, T or Z gives no row).

    Vectorized: one select per site, concatenated; no per-row work.
    """
    parts = []
    for site in SITES:
        hip = site in ("total_hip", "femoral_neck")
        parts.append(
            exams.select(
                pl.col("exam_id"),
                pl.lit(site).alias("site"),
                pl.col(f"{site}_bmd").alias("bmd_g_cm2"),
                pl.col(f"{site}_t").alias("t_score"),
                pl.col(f"{site}_z").alias("z_score"),
                (pl.col("hip_side") if hip else pl.lit(None, dtype=pl.String)).alias("hip_side"),
                (
                    pl.col("spine_vertebrae").fill_null(4)
                    if site == "spine"
                    else pl.lit(None, dtype=pl.Int64)
                ).alias("vertebrae"),
            )
        )
    long = pl.concat(parts)
    measured = pl.any_horizontal(pl.col("bmd_g_cm2", "t_score", "z_score").is_not_null())
    return long.filter(measured)


def serial_input(exams: pl.DataFrame, measurements: pl.DataFrame | None = None) -> pl.DataFrame:
    """Measurements of new exams with what serial comparison needs from the exam.

    Pass `measurements` when `to_measurements(exams)` is already at hand (the load does).
    """
    if measurements is None:
        measurements = to_measurements(exams)
    keys = exams.select("exam_id", "patient_id", "exam_date", "scanner_serial", "on_treatment")
    return measurements.select("exam_id", "site", "bmd_g_cm2").join(
        keys, on="exam_id", how="left"
    )
