"""Exam-level build steps: the visits, their scanner, bone density and scanned sites.

`one_row_per_exam` turns the patient rows into exam rows (``v`` = 0, 1, 2); the other
steps draw per exam, keyed on ``p * 4 + v``.
"""

from __future__ import annotations

import polars as pl

from samplegen.model import (
    LUNAR_SCALE,
    REFERENCE,
    SCANNERS,
    SITES,
    site_offset,
    t_mean,
    whole_years,
)
from samplegen.steps.draws import FEMALE, VISIT, Draws
from samplegen.steps.patients import neg_t, treated_at


def one_row_per_exam(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Explode patients into their ``n_eff`` visits; exam date, birth date, age."""
    lf = (
        lf.with_columns(v=pl.int_ranges(0, "n_eff", dtype=pl.Int64))
        .explode("v")
        .with_columns(exam_no=pl.col("first_exam_no") + pl.col("v"))
    )
    visit_offset = (
        (
            pl.col("_first_offset")
            + ((VISIT >= 1) * pl.col("_gap1") + (VISIT >= 2) * pl.col("_gap2"))
            * pl.col("_span_scale")
        )
        .floor()
        .clip(0, d.range_days)
    )
    birth_offset = pl.col("_first_offset") - (pl.col("_age0") * 365.25).round(0)
    lf = lf.with_columns(
        exam_date=pl.lit(d.start) + pl.duration(days=visit_offset.cast(pl.Int64)),
        birth_date=pl.lit(d.start) + pl.duration(days=birth_offset.cast(pl.Int64)),
    )
    return lf.with_columns(_age=whole_years(pl.col("exam_date"), pl.col("birth_date")))


def scanners(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """The first exam on the usual scanner, later ones there 80% of the time (a slow
    loser's always)."""
    n_scanners = len(SCANNERS)
    usual = (VISIT == 0) | pl.col("_slow") | (d.exam.uniform("same_scanner") < 0.8)
    scanner = (
        pl.when(usual)
        .then(pl.col("_home"))
        .otherwise((pl.col("_home") + pl.col("_alt_step")) % n_scanners)
    )
    lf = lf.with_columns(_scanner=scanner)

    def field(name: str) -> pl.Expr:
        values = {i: getattr(s, name) for i, s in enumerate(SCANNERS)}
        return pl.col("_scanner").replace_strict(values, return_dtype=pl.String)

    return lf.with_columns(
        scanner_manufacturer=field("manufacturer"),
        scanner_model=field("model"),
        scanner_serial=field("serial"),
    )


def treatment_and_fractures(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """At each exam: on treatment, prior fragility fracture, radiographic vertebral
    fracture (all monotone over visits, likelier with lower bone density)."""
    low = neg_t()
    return lf.with_columns(
        _treated=treated_at(VISIT),
        _fx=pl.col("_u_fx") < (0.07 + 0.06 * low + 0.02 * VISIT).clip(0.03, 0.5),
        _vfx=pl.col("_u_vfx") < (0.03 + 0.022 * low + 0.01 * VISIT).clip(0.03, 0.3),
    )


#: Chance that a later exam scans the other hip, or another set of vertebrae.
REGION_CHANGE = 0.08
#: Chance that an exam's hip side is not recorded.
HIP_SIDE_BLANK = 0.03


def scan_regions(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """The region each exam scans: the usual hip and vertebrae, except that 8% of later
    exams scan the other hip and 8% another set of vertebrae (the usual count less one
    from three up, else one more), never a slow loser's (`bone_density` gives the other
    region its own BMD). The hip side goes unrecorded in 3% of exams, never a slow
    loser's (so that their comparisons are verified same-region ones)."""
    er = d.exam
    later = (VISIT >= 1) & ~pl.col("_slow")
    usual = pl.col("_vertebrae_usual")
    return lf.with_columns(
        _other_hip=later & (er.uniform("other_hip") < REGION_CHANGE),
        _other_vertebrae=later & (er.uniform("other_vertebrae") < REGION_CHANGE),
        _hip_side_recorded=pl.col("_slow") | (er.uniform("hip_side_blank") >= HIP_SIDE_BLANK),
    ).with_columns(
        _left=pl.col("_hip_left") ^ pl.col("_other_hip"),
        _vertebrae=pl.when(pl.col("_other_vertebrae"))
        .then(pl.when(usual >= 3).then(usual - 1).otherwise(usual + 1))
        .otherwise(usual),
    )


def bone_density(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """BMD, T and Z per site: Hologic-equivalent BMD from the first T times the interval
    factors (and the other region's factor when the exam scans another hip or other
    vertebrae), T back from that BMD, the vendor's BMD scale, Z from the age/sex mean."""
    lunar = pl.col("scanner_manufacturer") == "GE Lunar"
    factor = {
        site: pl.when(VISIT == 0)
        .then(1.0)
        .when(VISIT == 1)
        .then(pl.col(f"_f1_{site}"))
        .otherwise(pl.col(f"_f1_{site}") * pl.col(f"_f2_{site}"))
        for site in SITES
    }
    other_hip = pl.when(pl.col("_other_hip")).then(pl.col("_other_hip_factor")).otherwise(1.0)
    for site in ("total_hip", "femoral_neck"):
        factor[site] = factor[site] * other_hip
    factor["spine"] = factor["spine"] * pl.when(pl.col("_other_vertebrae")).then(
        pl.col("_other_vertebrae_factor")
    ).otherwise(1.0)
    lf = lf.with_columns(
        [
            ((REFERENCE[site][0] + REFERENCE[site][1] * pl.col(f"_t0_{site}")) * factor[site])
            .clip(0.2, None)
            .alias(f"_{site}_bmd_h")  # Hologic-equivalent g/cm2
            for site in SITES
        ]
        + [t_mean(pl.col("_age").cast(pl.Float64), FEMALE).alias("_t_mean_now")]
    )
    site_cols: list[pl.Expr] = []
    for site in SITES:
        a, b = REFERENCE[site]
        bmd_h = pl.col(f"_{site}_bmd_h")
        t = (bmd_h - a) / b
        bmd = pl.when(lunar).then(bmd_h * LUNAR_SCALE[site]).otherwise(bmd_h)
        z = (
            t
            - pl.col("_t_mean_now")
            - site_offset(site, pl.col("_age").cast(pl.Float64))
            + d.exam.normal(f"z_noise_{site}", -0.1, 0.15)
        )
        site_cols += [
            bmd.round(3).alias(f"_{site}_bmd"),
            (t.round(1) + 0.0).alias(f"_{site}_t"),
            (z.round(1) + 0.0).alias(f"_{site}_z"),
        ]
    return lf.with_columns(site_cols)


def scanned_sites(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Which sites each exam has (spine 90%, hips 95%, radius mostly when one of them is
    missing; at least one), their contract columns, vertebra count and hip side (from
    `scan_regions`)."""
    er = d.exam
    lf = lf.with_columns(
        _spine_on=er.uniform("spine_on") < 0.90, _hip_on=er.uniform("hip_on") < 0.95
    )
    radius_p = pl.when(pl.col("_spine_on") & pl.col("_hip_on")).then(0.12).otherwise(0.6)
    lf = lf.with_columns(_radius_on=er.uniform("radius_on") < radius_p)
    lf = lf.with_columns(
        _hip_on=pl.col("_hip_on") | ~(pl.col("_spine_on") | pl.col("_radius_on")),
        _total_hip_on=er.uniform("total_hip_on") < 0.98,
    )
    present = {
        "spine": pl.col("_spine_on"),
        "total_hip": pl.col("_hip_on") & pl.col("_total_hip_on"),
        "femoral_neck": pl.col("_hip_on"),
        "radius_33": pl.col("_radius_on"),
    }
    out: list[pl.Expr] = []
    for site in SITES:
        on = present[site]
        z_on = on & (er.uniform(f"z_missing_{site}") >= 0.02)
        out += [
            pl.when(on).then(pl.col(f"_{site}_bmd")).alias(f"{site}_bmd"),
            pl.when(on).then(pl.col(f"_{site}_t")).alias(f"{site}_t"),
            pl.when(z_on).then(pl.col(f"_{site}_z")).alias(f"{site}_z"),
        ]
    out.append(pl.when(pl.col("_spine_on")).then(pl.col("_vertebrae")).alias("spine_vertebrae"))
    out.append(
        pl.when(pl.col("_hip_on") & pl.col("_hip_side_recorded"))
        .then(pl.when(pl.col("_left")).then(pl.lit("left")).otherwise(pl.lit("right")))
        .alias("hip_side")
    )
    return lf.with_columns(out)
