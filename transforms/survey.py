"""Design-based prevalence: weighted, directly age-standardised proportions and their
variance by Taylor linearisation with strata and PSUs.

Why this method: national surveys (NHANES) sample clustered PSUs within strata with
unequal weights; an estimate's variance must come from the design, not from a binomial
formula. The estimator here is the one R's `survey` package uses for `svymean` /
`svyby` on a subset, and for `svystandardize` (direct standardisation):

* domain proportion in age band g: p_g = sum_D(w y) / sum_D(w) over the domain D (a
  subpopulation: persons outside it stay in the design with zero contribution, so that
  every PSU counts, as `subset()` of a design does);
* standardised: p = sum_g a_g p_g with the standard population's shares a_g (over the
  bands present in the domain, rescaled to sum to 1); the crude proportion is one band;
* linearised values z_i = sum_g a_g 1[i in D and g] (y_i - p_g) / W_g, W_g = sum_{D,g} w;
* variance (with-replacement PSUs within strata): sum over strata h of
  n_h / (n_h - 1) * sum_j (t_hj - mean_h t)^2, t_hj = sum of w_i z_i in PSU j of h. A
  stratum with a single PSU contributes nothing (R's `survey.lonely.psu = "certainty"`);
  such strata are counted so that callers can say so.
* 95 % confidence interval, two methods (`ci_method`):
  - "korn-graubard" (default): the Clopper-Pearson interval on the effective sample
    size, as NCHS computes proportions' intervals under its Data Presentation Standards
    for Proportions (Parker et al., Vital Health Stat 2(175), 2017; Korn and Graubard,
    Survey Methodology 1998) and as R's `svyciprop(method = "beta")` does:
    n_eff = min(n, p (1 - p) / Var(p)) (n itself when Var(p) = 0), scaled by
    (t_{n-1} / t_df)^2 with df = PSUs - strata of the design; x = n_eff p; lower =
    Beta^-1(0.025; x, n_eff - x + 1) (0 when p = 0), upper = Beta^-1(0.975; x + 1,
    n_eff - x) (1 when p = 1);
  - "wald": p +/- 1.96 SE (normal quantile, as `confint()` on a `svymean` does),
    clipped to [0, 1].

Unweighted registry data is the same computation with weight 1, one stratum and every
exam its own PSU: the variance is then p (1 - p) / (n - 1) for a crude proportion.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import polars as pl
from scipy.stats import beta, t

Z95 = NormalDist().inv_cdf(0.975)

#: Columns a design frame has: weight, stratum, psu (and the caller's outcome/domain/band).
WEIGHT, STRATUM, PSU = "_w", "_stratum", "_psu"

#: Confidence-interval methods; the first is the default (what NCHS publishes).
CI_METHODS = ("korn-graubard", "wald")


@dataclass(frozen=True)
class Estimate:
    """One proportion: unweighted n in the domain, the estimate, its SE and 95 % CI."""

    n: int
    proportion: float | None
    se: float | None
    ci95: tuple[float, float] | None
    bands_missing: tuple[str, ...] = ()


def design_variance(frame: pl.DataFrame, z: str) -> tuple[float, int]:
    """Taylor-linearisation variance of a total of w*z; (variance, lonely strata)."""
    totals = frame.group_by(STRATUM, PSU).agg((pl.col(WEIGHT) * pl.col(z)).sum().alias("t"))
    per_stratum = totals.group_by(STRATUM).agg(
        pl.len().alias("n_h"),
        ((pl.col("t") - pl.col("t").mean()) ** 2).sum().alias("ss"),
    )
    lonely = per_stratum.filter(pl.col("n_h") < 2).height
    variance = per_stratum.filter(pl.col("n_h") >= 2).select(
        (pl.col("n_h") / (pl.col("n_h") - 1) * pl.col("ss")).sum()
    ).item()
    return float(variance or 0.0), lonely


def design_df(frame: pl.DataFrame) -> int:
    """Design degrees of freedom: PSUs minus strata (n - 1 for a one-stratum registry)."""
    return int(frame.select(pl.struct(STRATUM, PSU).n_unique()).item()
               - frame.get_column(STRATUM).n_unique())


def wald_ci(p: float, se: float) -> tuple[float, float]:
    """p +/- 1.96 SE, clipped to [0, 1]."""
    return max(0.0, p - Z95 * se), min(1.0, p + Z95 * se)


def korn_graubard_ci(p: float, se: float, n: int, df: int) -> tuple[float, float]:
    """Korn-Graubard 95 % interval: Clopper-Pearson on the df-adjusted effective n."""
    variance = se * se
    n_eff = float(n) if variance <= 0 else min(float(n), p * (1 - p) / variance)
    if df > 0 and n > 1:
        n_eff *= (t.ppf(0.975, n - 1) / t.ppf(0.975, df)) ** 2
    x = n_eff * p
    lower = 0.0 if p <= 0 else float(beta.ppf(0.025, x, n_eff - x + 1))
    upper = 1.0 if p >= 1 else float(beta.ppf(0.975, x + 1, n_eff - x))
    return lower, upper


def standardised_proportion(
    frame: pl.DataFrame,
    outcome: str,
    domain: pl.Expr,
    band: str,
    shares: dict[str, float],
    ci_method: str = CI_METHODS[0],
) -> Estimate:
    """Directly standardised proportion of `outcome` (boolean) in `domain`.

    `frame` is the whole design frame (WEIGHT, STRATUM, PSU, `band`, `outcome`); `shares`
    the standard population's share per band (a single band with share 1 gives the crude
    proportion). Bands of `shares` with no one in the domain are left out and named in
    `bands_missing` (the remaining shares are rescaled).
    """
    flagged = frame.with_columns(domain.fill_null(False).alias("_in"))
    inside = flagged.filter("_in")
    n = inside.height
    per_band = inside.group_by(band).agg(
        pl.col(WEIGHT).sum().alias("_W"),
        (pl.col(WEIGHT) * pl.col(outcome).cast(pl.Float64)).sum().alias("_Y"),
    ).filter(pl.col("_W") > 0)
    present = {b: shares[b] for b in per_band.get_column(band).to_list() if b in shares}
    missing = tuple(b for b in shares if b not in present)
    total_share = sum(present.values())
    if n == 0 or total_share == 0:
        return Estimate(n, None, None, None, missing)
    bands = per_band.filter(pl.col(band).is_in(list(present))).with_columns(
        (pl.col("_Y") / pl.col("_W")).alias("_p"),
        pl.col(band).replace_strict({b: s / total_share for b, s in present.items()},
                                    return_dtype=pl.Float64).alias("_a"),
    )
    p = float(bands.select((pl.col("_a") * pl.col("_p")).sum()).item())
    linearised = flagged.join(bands.select(band, "_W", "_p", "_a"), on=band, how="left")
    linearised = linearised.with_columns(
        pl.when(pl.col("_in") & pl.col("_a").is_not_null())
        .then(pl.col("_a") * (pl.col(outcome).cast(pl.Float64) - pl.col("_p")) / pl.col("_W"))
        .otherwise(0.0)
        .alias("_z")
    )
    variance, _lonely = design_variance(linearised, "_z")
    se = variance ** 0.5
    ci = wald_ci(p, se) if ci_method == "wald" else korn_graubard_ci(p, se, n, design_df(frame))
    return Estimate(n, p, se, ci, missing)


def lonely_strata(frame: pl.DataFrame) -> int:
    """Strata of the design frame with a single PSU (they add no variance)."""
    return frame.group_by(STRATUM).agg(pl.col(PSU).n_unique().alias("k")).filter(
        pl.col("k") < 2
    ).height
