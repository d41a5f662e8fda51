"""Canonical twins of vendor exports: the exams as a scanner export carries them.

Both vendor generators (APEX tables, Lunar DICOM) write the measured sites of an exam and
nothing else, rounded as the devices report them; their twins are built with these
expressions so that the round-trip tests compare like with like.
"""

from __future__ import annotations

import polars as pl

from samplegen.canonical import SCHEMA


def kept(present: pl.Expr, column: str, digits: int) -> pl.Expr:
    """`column` rounded to the device's `digits` where the site was scanned, else null."""
    return pl.when(present).then(pl.col(column).round(digits)).alias(column)


def site_columns(
    spine: pl.Expr, hip: pl.Expr, total_hip: pl.Expr, radius: pl.Expr, hip_side: str
) -> list[pl.Expr]:
    """Per-site BMD (3 decimals), T and Z (1 decimal) of the scanned sites; the spine's
    vertebra count (4 when not given) and the hip side (`hip_side` when not given)."""
    return [
        kept(spine, "spine_bmd", 3), kept(spine, "spine_t", 1), kept(spine, "spine_z", 1),
        pl.when(spine).then(pl.col("spine_vertebrae").fill_null(4)).alias("spine_vertebrae"),
        kept(hip, "femoral_neck_bmd", 3), kept(hip, "femoral_neck_t", 1),
        kept(hip, "femoral_neck_z", 1), kept(total_hip, "total_hip_bmd", 3),
        kept(total_hip, "total_hip_t", 1), kept(total_hip, "total_hip_z", 1),
        pl.when(hip).then(pl.col("hip_side").fill_null(hip_side)).alias("hip_side"),
        kept(radius, "radius_33_bmd", 3), kept(radius, "radius_33_t", 1),
        kept(radius, "radius_33_z", 1),
    ]


def as_canonical(twin: pl.DataFrame) -> pl.DataFrame:
    """Every canonical column, typed as the generator's SCHEMA; absent ones as nulls."""
    return twin.select(
        pl.col(name).cast(dtype) if name in twin.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in SCHEMA.items()
    )
