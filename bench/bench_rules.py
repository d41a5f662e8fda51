"""Benchmark: decide 1M synthetic exams in memory; prints the median time and peak RSS.

Target: `decide()` at most 1 s per million exams on a 2-core machine. Run:
    .venv/bin/python bench/bench_rules.py [--rows N] [--repeats K] [--ruleset ID]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import polars as pl

from schemas.columns import CANONICAL_COLUMNS, polars_dtype
from transforms.rules.decide import decide
from transforms.rules.ruleset import load_ruleset


def _uniform(rows: int, seed: int) -> pl.Expr:
    """Seeded uniform [0, 1) floats from hashing the row index (polars only, no numpy)."""
    return (pl.int_range(0, rows, dtype=pl.UInt64).hash(seed) % 1_000_003).cast(
        pl.Float64
    ) / 1_000_003.0


def synthetic_exams(rows: int, seed: int = 20250101) -> pl.DataFrame:
    """A typed canonical exam frame with realistic mixes of values and nulls (vectorized)."""
    counter = iter(range(seed, seed + 1000))

    def u() -> pl.Expr:
        return _uniform(rows, next(counter))

    def maybe(value: pl.Expr, null_share: float) -> pl.Expr:
        return pl.when(u() < null_share).then(None).otherwise(value)

    def normal(mean: float, sd: float) -> pl.Expr:
        # Irwin-Hall approximation: sum of 4 uniforms, centred and scaled.
        total = u() + u() + u() + u()
        return ((total - 2.0) * (sd * 3.0**0.5) + mean).round(1)

    def score(mean: float, null_share: float) -> pl.Expr:
        return maybe(normal(mean, 1.2), null_share)

    def flag(p_true: float, null_share: float) -> pl.Expr:
        return maybe(u() < p_true, null_share)

    def choice(values: list, null_share: float) -> pl.Expr:
        index = (u() * len(values)).floor().cast(pl.Int64)
        picked = pl.lit(pl.Series(values)).get(index)
        return maybe(picked, null_share)

    columns = {
        "exam_id": pl.int_range(0, rows).cast(pl.String),
        "patient_id": (u() * (rows // 2 + 1)).floor().cast(pl.Int64).cast(pl.String),
        "exam_date": (pl.lit(14_610) + (u() * 365 * 15).floor()).cast(pl.Int32).cast(pl.Date),
        "age_years": (u() * 80 + 15).floor(),
        "sex": pl.when(u() < 0.8).then(pl.lit("F")).otherwise(pl.lit("M")),
        "menopausal_status": choice(["pre", "peri", "post", "unknown"], 0.3),
        "bmi": maybe(normal(25, 4), 0.1),
        "spine_t": score(-1.2, 0.2),
        "spine_z": score(-0.5, 0.2),
        "spine_vertebrae": maybe((u() * 4).floor().cast(pl.Int64) + 1, 0.7),
        "femoral_neck_t": score(-1.5, 0.1),
        "femoral_neck_z": score(-0.4, 0.1),
        "total_hip_t": score(-1.0, 0.3),
        "total_hip_z": score(-0.3, 0.3),
        "radius_33_t": score(-1.0, 0.9),
        "radius_33_z": score(-0.3, 0.9),
        "prior_fragility_fracture": flag(0.1, 0.2),
        "vertebral_fracture": flag(0.05, 0.5),
        "glucocorticoid_mg_day": choice([0.0, 5.0, 7.5, 10.0], 0.3),
        "glucocorticoid_months": choice([0.0, 2.0, 3.0, 12.0], 0.5),
        "parent_hip_fracture": flag(0.1, 0.3),
        "parent_hip_fracture_age": maybe((u() * 55 + 40).floor(), 0.5),
        "height_loss_cm": maybe((-(1.0 - u()).log() * 2).round(1), 0.4),
        "current_smoker": flag(0.15, 0.2),
        "alcohol_units_day": choice([0.0, 1.0, 3.0, 5.0], 0.3),
        "kyphosis": flag(0.05, 0.5),
        "back_pain": flag(0.2, 0.5),
        "on_treatment": flag(0.2, 0.3),
        "frax_major_pct": maybe((u() * u() * 40).round(1), 0.3),
        "frax_hip_pct": maybe((u() * u() * 10).round(1), 0.3),
    }
    return pl.select(
        (columns[name] if name in columns else pl.lit(None))
        .cast(polars_dtype(kind))
        .alias(name)
        for name, kind in CANONICAL_COLUMNS.items()
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ruleset", default="core-2025")
    args = parser.parse_args()
    ruleset = load_ruleset(args.ruleset)
    exams = synthetic_exams(args.rows)
    decide(exams.head(1000), ruleset)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        decisions = decide(exams, ruleset)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"decide(): {args.rows:,} exams, ruleset {ruleset.label}, "
        f"median {median:.3f} s over {args.repeats} runs "
        f"(min {min(times):.3f} s, max {max(times):.3f} s); "
        f"{len(decisions.flags):,} flags; peak RSS {peak_rss_mb():.0f} MiB"
    )


if __name__ == "__main__":
    main()
