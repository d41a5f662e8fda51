"""Patient-level build steps: who the patient is and how their bone density will go.

One row per patient; every column is a ``_``-prefixed helper that the exam-level steps
read. Draws are keyed on the patient number ``p``.
"""

from __future__ import annotations

import polars as pl

from samplegen._rng import Rng
from samplegen.model import SCANNERS, SITES, site_offset, t_mean
from samplegen.steps.draws import FEMALE, Draws


def demographics(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Sex (~80% women), age at the first exam (1% 15-19, 6% 20-39, else 40-97 around
    64), adult height and weight by sex."""
    pr = d.patient
    age_bucket = pr.choice("age_bucket", [0.01, 0.06, 0.93])
    main_age = pr.normal("age_main", 64.0, 10.5)
    main_age = pl.when(main_age < 40).then(80 - main_age).otherwise(main_age)
    main_age = pl.when(main_age > 95).then(190 - main_age).otherwise(main_age).clip(40, 97)
    woman = pr.uniform("sex") < 0.8
    return lf.with_columns(
        _female=woman,
        _age0=pl.when(age_bucket == 0)
        .then(pr.uniform("age_teen", 15.3, 20.0))
        .when(age_bucket == 1)
        .then(pr.uniform("age_young", 20.0, 40.0))
        .otherwise(main_age),
        _height=pl.when(woman)
        .then(pr.normal("height", 161.5, 6.5))
        .otherwise(pr.normal("height", 175.5, 7.0))
        .clip(150.0, 185.0),
        _weight=pl.when(woman)
        .then(pr.normal("weight", 68.0, 12.0))
        .otherwise(pr.normal("weight", 82.0, 13.0)),
    )


#: Share of patients with three exams who are slow losers (see `follow_up`).
SLOW_LOSER_SHARE = 0.25


def follow_up(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Gaps between visits (1-3 years), the usual scanner and the alternative one, the
    uniforms behind treatment and fractures (monotone over visits), and the slow losers:
    a quarter of the patients with three exams lose BMD steadily, under the LSC at each
    visit, on one scanner and region (`interval_changes`, `exams.scanners`,
    `exams.scan_regions`)."""
    pr = d.patient
    return lf.with_columns(
        _gap1=pr.uniform("gap1", 365.0, 1096.0).floor(),
        _gap2=pr.uniform("gap2", 365.0, 1096.0).floor(),
        _latent=pr.normal("latent"),
        _home=pr.choice("home_scanner", [s.weight for s in SCANNERS]),
        _alt_step=pr.integers("alt_scanner", 1, len(SCANNERS) - 1),
        _u_treat=pr.uniform("treat"),
        _u_fx=pr.uniform("fragility_fx"),
        _u_vfx=pr.uniform("vertebral_fx"),
        _slow=(pl.col("n_visits") >= 3) & (pr.uniform("slow_loser") < SLOW_LOSER_SHARE),
    )


def usual_regions(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """The region usually scanned: the hip (70% left) and the vertebrae behind the spine
    result (85% four, 10% three, 4% two, 1% one); and what scanning another region does
    to BMD: the other hip differs by ~3% (SD), another set of vertebrae by ~2%."""
    pr = d.patient
    return lf.with_columns(
        _hip_left=pr.uniform("hip_side") < 0.7,
        _vertebrae_usual=pl.lit(4, dtype=pl.Int64)
        - pr.choice("vertebrae", [0.85, 0.10, 0.04, 0.01]),
        _other_hip_factor=1 + pr.normal("other_hip", 0.0, 0.03).clip(-0.09, 0.09),
        _other_vertebrae_factor=1 + pr.normal("other_vertebrae", 0.0, 0.02).clip(-0.06, 0.06),
    )


#: `prior_fracture_sites` codes (contract order) and their share among fragility
#: fractures (forearm/wrist most common, then vertebral, hip, humerus, other, pelvis).
FRACTURE_SITES: dict[str, float] = {
    "hip": 0.16,
    "vertebral": 0.22,
    "humerus": 0.12,
    "pelvis": 0.06,
    "forearm": 0.30,
    "other": 0.14,
}


def risk_profile(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Patient-level risk factors: parent's hip fracture, glucocorticoid use (8%),
    smoking, drinking, kyphosis, back pain; the sites of a fragility fracture (one, or
    two in 20%; recorded for 75% of patients with one)."""
    pr = d.patient
    n_sites = len(FRACTURE_SITES)
    first_site = pr.choice("fx_site", list(FRACTURE_SITES.values()))
    second_site = (first_site + pr.integers("fx_site2_step", 1, n_sites - 1)) % n_sites
    return lf.with_columns(
        _parent=pr.uniform("parent_hip") < 0.12,
        _parent_age=pr.integers("parent_age", 55, 90).cast(pl.Float64),
        _parent_age_known=pr.uniform("parent_age_known") < 0.8,
        _fx_site1=first_site,
        _fx_site2=pl.when(pr.uniform("fx_two_sites") < 0.2).then(second_site),
        _fx_site_known=pr.uniform("fx_site_known") < 0.75,
        _gc_user=pr.uniform("gc_user") < 0.08,
        _gc_dose=pr.choice("gc_dose", [0.15, 0.3, 0.2, 0.15, 0.1, 0.1]),
        _gc_months=pr.integers("gc_months", 1, 36).cast(pl.Float64),
        _u_smoker=pr.uniform("smoker"),
        _drinker=pr.choice("alcohol_kind", [0.55, 0.40, 0.05]),
        _alcohol=pr.uniform("alcohol_amount"),
        _kyphosis=pr.uniform("kyphosis") < 0.08,
        _u_back=pr.uniform("back_pain"),
    )


def visit_span(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """The first exam's date leaves room for the later ones inside [start, end] (gaps
    shrink when the follow-up would not fit); the patient's bone-density level."""
    pr = d.patient
    span = pl.col("_gap1") * (pl.col("n_visits") >= 2) + pl.col("_gap2") * (
        pl.col("n_visits") >= 3
    )
    scale = pl.when(span > d.range_days).then(d.range_days / span).otherwise(1.0)
    lf = lf.with_columns(_span_scale=scale, _span=span)
    return lf.with_columns(
        _first_offset=(
            pr.uniform("first_date")
            * (d.range_days - pl.col("_span") * pl.col("_span_scale") + 1)
        ).floor(),
        _tlev=t_mean(pl.col("_age0"), FEMALE) + 0.85 * pl.col("_latent"),
    )


def neg_t() -> pl.Expr:
    """Minus the patient's T level, clipped: treatment and fractures grow with it."""
    return (-pl.col("_tlev")).clip(-1.0, 5.0)


def treated_at(visit: pl.Expr | int) -> pl.Expr:
    """On treatment at a visit (0-based): once yes, stays yes (one uniform per patient
    against a threshold that grows with the visit number)."""
    threshold = (0.05 + 0.09 * neg_t() + 0.07 * visit).clip(0.03, 0.85)
    return pl.col("_u_treat") < threshold


def first_exam_t(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Treatment by the end of each interval, and the first exam's T per site: patient
    level + site offset + site noise (SD ~1.0 in all)."""
    pr = d.patient
    return lf.with_columns(
        [treated_at(1).alias("_treated1"), treated_at(2).alias("_treated2")]
        + [
            (
                pl.col("_tlev")
                + site_offset(site, pl.col("_age0"))
                + 0.5 * pr.normal(f"site_noise_{site}")
            )
            .clip(-5.5, 4.5)
            .alias(f"_t0_{site}")
            for site in SITES
        ]
    )


def _interval_change(pr: Rng, step: int) -> pl.Expr:
    """BMD change over interval ``step`` shared by the sites: -4%..+2% (treated -1%..+4%),
    15% of intervals beyond the LSC (-10..-5.5%, treated +5..+8%); slow losers -4.4%
    ..-3.6% every interval, on treatment or not (under the smallest default LSC, 5.0% at
    the total hip, each time; beyond it against the baseline after two intervals)."""
    slow = pr.uniform(f"slow_chg{step}", -0.044, -0.036)
    big = pr.uniform(f"big_change{step}") < 0.15
    treated = pl.col(f"_treated{step}")  # on treatment by the end of the interval
    small = (
        pl.when(treated)
        .then(pr.uniform(f"chg{step}", -0.01, 0.04))
        .otherwise(pr.uniform(f"chg{step}", -0.04, 0.02))
    )
    large = (
        pl.when(treated)
        .then(pr.uniform(f"bigchg{step}", 0.05, 0.08))
        .otherwise(pr.uniform(f"bigchg{step}", -0.10, -0.055))
    )
    return pl.when(pl.col("_slow")).then(slow).when(big).then(large).otherwise(small)


def interval_changes(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """Per-interval BMD factors per site: the shared change plus a little site noise
    (SD 0.6%; a third of it, at most 0.3%, for slow losers so that no single step
    reaches the LSC)."""
    pr = d.patient
    lf = lf.with_columns(_chg1=_interval_change(pr, 1), _chg2=_interval_change(pr, 2))

    def factor(step: int, site: str) -> pl.Expr:
        noise = pr.normal(f"site_chg{step}_{site}", 0.0, 0.006)
        noise = pl.when(pl.col("_slow")).then((noise / 3).clip(-0.003, 0.003)).otherwise(noise)
        return (1 + pl.col(f"_chg{step}") + noise).alias(f"_f{step}_{site}")

    return lf.with_columns([factor(step, site) for step in (1, 2) for site in SITES])
