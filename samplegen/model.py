"""Fixed parameters of the synthetic population: the scanner fleet, the vendors' BMD
references and how mean T-scores fall with age.

Kept apart from the build steps (`samplegen.steps`) and the public entry points
(`samplegen.canonical`, which re-exports these names) so that both can use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Scanner:
    manufacturer: str
    model: str
    serial: str
    weight: float  # share of patients whose usual scanner this is


#: The synthetic fleet: a handful of devices of both vendors.
SCANNERS: tuple[Scanner, ...] = (
    Scanner("Hologic", "Horizon A", "301457M", 0.24),
    Scanner("Hologic", "Horizon A", "302118M", 0.14),
    Scanner("Hologic", "Discovery W", "87345", 0.14),
    Scanner("GE Lunar", "iDXA", "200871", 0.20),
    Scanner("GE Lunar", "iDXA", "201532", 0.12),
    Scanner("GE Lunar", "Prodigy", "103344", 0.16),
)

SITES: tuple[str, ...] = ("spine", "total_hip", "femoral_neck", "radius_33")

#: Hologic-equivalent young-adult reference per site: BMD = a + b * T (g/cm2).
REFERENCE: dict[str, tuple[float, float]] = {
    "spine": (1.047, 0.11),
    "total_hip": (0.94, 0.12),
    "femoral_neck": (0.858, 0.12),
    "radius_33": (0.70, 0.06),
}

#: GE Lunar BMD = Hologic-equivalent BMD x factor (same T-score).
LUNAR_SCALE: dict[str, float] = {
    "spine": 1.12,
    "total_hip": 1.06,
    "femoral_neck": 1.10,
    "radius_33": 1.0,
}


def t_mean(age: pl.Expr, female: pl.Expr) -> pl.Expr:
    """Mean T-score by age and sex (before site offsets)."""
    women = (
        pl.when(age < 20)
        .then(-0.5)
        .when(age <= 45)
        .then(-0.3 - 0.2 * (age - 20) / 25)
        .otherwise(-0.5 - 2.0 * (age - 45) / 40)
    )
    men = pl.when(age <= 50).then(-0.2).otherwise(-0.2 - 1.3 * (age - 50) / 35)
    return pl.when(female).then(women).otherwise(men)


def site_offset(site: str, age: pl.Expr) -> pl.Expr:
    """Site-specific shift of the mean T (degenerative spine gain with age, etc.)."""
    if site == "spine":
        return 0.1 + ((age - 65).clip(0, 25) * 0.015)
    if site == "femoral_neck":
        return pl.lit(-0.2)
    if site == "radius_33":
        return pl.lit(-0.15)
    return pl.lit(0.0)


def whole_years(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """Completed years between two dates (age at a date)."""

    def month_day(d: pl.Expr) -> pl.Expr:  # dt.month()/dt.day() are Int8: widen first
        return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

    before_birthday = month_day(later) < month_day(earlier)
    return (
        later.dt.year().cast(pl.Int32)
        - earlier.dt.year().cast(pl.Int32)
        - before_birthday.cast(pl.Int32)
    )
