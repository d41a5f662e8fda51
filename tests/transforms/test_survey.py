"""Design-based proportions against hand computations (two strata, two PSUs each)."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.standardise import band_of, band_shares, bands, standard
from transforms.survey import (
    PSU,
    STRATUM,
    WEIGHT,
    Z95,
    design_df,
    korn_graubard_ci,
    standardised_proportion,
)


def _design(rows: list[tuple]) -> pl.DataFrame:
    """rows of (stratum, psu, weight, y, in_domain, band)."""
    return pl.DataFrame(
        rows, schema={STRATUM: pl.Int64, PSU: pl.Int64, WEIGHT: pl.Float64, "y": pl.Boolean,
                      "d": pl.Boolean, "band": pl.String}, orient="row",
    )


def test_weighted_proportion_and_ci_by_hand() -> None:
    # stratum 1: PSU 1 {w1 y1, w1 y0}, PSU 2 {w2 y1}; stratum 2: PSU 1 {w1 y0},
    # PSU 2 {w2 y0, w1 y1}. p = 4/8 = 0.5. Linearised PSU totals sum(w (y - p)) / W:
    # s1: 0, 0.125 -> 2 * 2 * 0.0625^2 = 0.015625; s2: -0.0625, -0.0625 -> 0.
    # var = 0.015625, SE = 0.125 (what R's svymean gives with strata and PSUs).
    frame = _design([
        (1, 1, 1, True, True, "a"), (1, 1, 1, False, True, "a"), (1, 2, 2, True, True, "a"),
        (2, 1, 1, False, True, "a"), (2, 2, 2, False, True, "a"), (2, 2, 1, True, True, "a"),
    ])
    est = standardised_proportion(frame, "y", pl.col("d"), "band", {"a": 1.0},
                                  ci_method="wald")
    assert est.n == 6
    assert est.proportion == pytest.approx(0.5)
    assert est.se == pytest.approx(0.125)
    assert est.ci95 == pytest.approx((0.5 - Z95 * 0.125, 0.5 + Z95 * 0.125))
    assert abs(Z95 - 1.959964) < 1e-6


def test_domain_keeps_psus_without_domain_members() -> None:
    # Domain: stratum 1 PSU 1 {w1 y1}, PSU 2 has no domain member; stratum 2: PSU 1
    # {w1 y0}, PSU 2 {w2 y1}. p = 3/4. Totals: s1: 0.0625, 0 -> 2 * 2 * 0.03125^2
    # = 0.00390625; s2: -0.1875, 0.125 -> 2 * 2 * 0.15625^2 = 0.09765625.
    # var = 0.1015625 (dropping the non-domain rows would lose stratum 1's PSU 2).
    frame = _design([
        (1, 1, 1, True, True, "a"), (1, 2, 1, True, False, "a"),
        (2, 1, 1, False, True, "a"), (2, 2, 2, True, True, "a"),
    ])
    est = standardised_proportion(frame, "y", pl.col("d"), "band", {"a": 1.0})
    assert (est.n, est.proportion) == (3, pytest.approx(0.75))
    assert est.se ** 2 == pytest.approx(0.1015625)


def test_unweighted_registry_variance_is_binomial_over_n_minus_1() -> None:
    ys = [True, True, False, False, False]  # p = 0.4: var = 0.4 * 0.6 / 4 = 0.06
    frame = _design([(0, i, 1, y, True, "a") for i, y in enumerate(ys)])
    est = standardised_proportion(frame, "y", pl.col("d"), "band", {"a": 1.0})
    assert est.proportion == pytest.approx(0.4)
    assert est.se ** 2 == pytest.approx(0.06)


def test_age_standardisation_by_hand() -> None:
    # Band A (stratum 1): PSU 1 {y1}, PSU 2 {y0}: p_A = 0.5, var_A = 0.25.
    # Band B (stratum 2): PSU 1 {y1, y0}, PSU 2 {y0, y0}: p_B = 0.25, var_B = 0.0625.
    # Standard shares 60 : 40 -> p = 0.6 * 0.5 + 0.4 * 0.25 = 0.4;
    # var = 0.36 * 0.25 + 0.16 * 0.0625 = 0.1 (bands in separate strata: no covariance).
    frame = _design([
        (1, 1, 1, True, True, "A"), (1, 2, 1, False, True, "A"),
        (2, 1, 1, True, True, "B"), (2, 1, 1, False, True, "B"),
        (2, 2, 1, False, True, "B"), (2, 2, 1, False, True, "B"),
    ])
    est = standardised_proportion(frame, "y", pl.col("d"), "band", {"A": 60.0, "B": 40.0})
    assert est.proportion == pytest.approx(0.4)
    assert est.se ** 2 == pytest.approx(0.1)
    crude = standardised_proportion(frame.with_columns(pl.lit("all").alias("band")), "y",
                                    pl.col("d"), "band", {"all": 1.0})
    assert crude.proportion == pytest.approx(2 / 6)
    # a band of the standard with nobody in the domain is named, the rest rescaled
    only_a = standardised_proportion(frame, "y", pl.col("band") == "A", "band",
                                     {"A": 60.0, "B": 40.0})
    assert (only_a.proportion, only_a.bands_missing) == (pytest.approx(0.5), ("B",))


def test_empty_domain_gives_no_estimate() -> None:
    frame = _design([(1, 1, 1, True, False, "a"), (1, 2, 1, True, False, "a")])
    est = standardised_proportion(frame, "y", pl.col("d"), "band", {"a": 1.0})
    assert (est.n, est.proportion, est.ci95) == (0, None, None)


def test_us2000_and_esp2013_shares_for_the_brief_bands() -> None:
    us = standard("us2000")
    age_bands = bands(50, us.breaks)
    assert [b.label for b in age_bands] == ["50-64", "65+"]
    # Census P25-1130: 50-54 17,224,359 + 55-59 13,307,234 + 60-64 10,654,272; 65+ =
    # 9,409,940 + 8,725,574 + 7,414,559 + 4,900,234 + 4,259,173
    assert band_shares(us, age_bands) == {"50-64": 41185865.0, "65+": 34709480.0}
    esp = standard("esp2013")
    shares = band_shares(esp, bands(50, esp.breaks))
    assert shares == {"50-54": 7000.0, "55-59": 6500.0, "60-64": 6000.0, "65-69": 5500.0,
                      "70-74": 5000.0, "75-79": 4000.0, "80+": 5000.0}
    # a band edge inside a standard group splits it by years: 52-64 holds 3/5 of 50-54
    assert band_shares(us, bands(52, us.breaks))["52-64"] == pytest.approx(
        17224359 * 3 / 5 + 13307234 + 10654272)


def test_band_of_ages_on_both_sides_of_65() -> None:
    age_bands = bands(50, (65,))
    ages = pl.DataFrame({"age": [49.0, 50.0, 64.0, 64.9, 65.0, 80.0]})
    labels = ages.select(band_of(pl.col("age"), age_bands)).to_series().to_list()
    assert labels == [None, "50-64", "50-64", "50-64", "65+", "65+"]


def test_korn_graubard_is_clopper_pearson_when_n_eff_is_n_and_df_full() -> None:
    # p = 0.4, Var = p (1 - p) / 5 -> n_eff = 5, x = 2; df = n - 1 -> no df scaling.
    # Clopper-Pearson for 2 of 5 (textbook): 0.0527, 0.8534.
    lo, hi = korn_graubard_ci(0.4, (0.4 * 0.6 / 5) ** 0.5, n=5, df=4)
    assert (round(lo, 4), round(hi, 4)) == (0.0527, 0.8534)


def test_korn_graubard_caps_n_eff_at_n() -> None:
    # a design effect below 1 (Var < p (1 - p) / n) must not widen n beyond the sample
    assert korn_graubard_ci(0.4, 0.01, n=5, df=4) == pytest.approx(
        korn_graubard_ci(0.4, (0.4 * 0.6 / 5) ** 0.5, n=5, df=4))


def test_korn_graubard_df_scaling_by_hand() -> None:
    # p = 0: n_eff = n = 5 (no variance), scaled by (t_{0.975,4} / t_{0.975,2})^2 =
    # (2.776445 / 4.302653)^2 = 0.416395 -> 2.081975; lower = 0, upper = 1 - 0.025^(1/n_eff).
    n_eff = 5 * (2.776445 / 4.302653) ** 2
    lo, hi = korn_graubard_ci(0.0, 0.0, n=5, df=2)
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** (1 / n_eff), abs=1e-5)
    assert hi == pytest.approx(0.82998, abs=1e-5)
    assert korn_graubard_ci(1.0, 0.0, n=5, df=4) == pytest.approx((0.025 ** (1 / 5), 1.0))


def test_design_df_is_psus_minus_strata() -> None:
    frame = _design([
        (1, 1, 1, True, True, "a"), (1, 2, 1, True, True, "a"), (1, 2, 1, True, True, "a"),
        (2, 1, 1, False, True, "a"), (2, 2, 2, False, True, "a"), (2, 3, 1, True, True, "a"),
    ])
    assert design_df(frame) == 5 - 2


def test_default_ci_is_korn_graubard_on_the_two_strata_case() -> None:
    # the two-strata case above: p = 0.5, SE = 0.125, n = 6, df = 4 - 2 = 2.
    # n_eff = min(6, 0.25 / 0.015625 = 16) = 6, times (t_{.975,5} / t_{.975,2})^2.
    frame = _design([
        (1, 1, 1, True, True, "a"), (1, 1, 1, False, True, "a"), (1, 2, 2, True, True, "a"),
        (2, 1, 1, False, True, "a"), (2, 2, 2, False, True, "a"), (2, 2, 1, True, True, "a"),
    ])
    est = standardised_proportion(frame, "y", pl.col("d"), "band", {"a": 1.0})
    assert est.ci95 == pytest.approx(korn_graubard_ci(0.5, 0.125, n=6, df=2))
    n_eff = 6 * (2.570582 / 4.302653) ** 2  # 2.1417; x = n_eff / 2
    from scipy.stats import beta

    assert est.ci95 == pytest.approx(
        (beta.ppf(0.025, n_eff / 2, n_eff / 2 + 1), beta.ppf(0.975, n_eff / 2 + 1, n_eff / 2)),
        abs=1e-5)
