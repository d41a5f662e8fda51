"""Standard populations and age bands for direct age standardisation.

Why: prevalence rises steeply with age, so registries (or survey cycles) with different
age mixes are compared only after weighting each age band's prevalence by one standard
population's shares. The standards are data (`references/standard_populations.toml`):
US 2000 projected population (how NCHS age-adjusts) and the 2013 European Standard
Population. A band's share is the standard population inside it; a standard group that
a band boundary cuts is split in proportion to the years on each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.reference_files import ReferenceFileError, read_reference_file, shipped

STANDARDS_FILE = "standard_populations.toml"
#: Age bands used with `--standard none` (and for `--by age_group` then): the brief's.
DEFAULT_BREAKS = (65,)
#: A top open-ended group is taken to span this many years when a band cuts it.
OPEN_GROUP_YEARS = 10


@dataclass(frozen=True)
class Standard:
    name: str
    title: str
    source: str
    breaks: tuple[int, ...]
    groups: tuple[tuple[int, float], ...]  # (lower age bound, population), ascending


def load_standards(path: Path | None = None) -> dict[str, Standard]:
    """The standard populations of the file (default: the shipped one), by name;
    ReferenceFileError names the file and the entry that cannot be used."""
    path = path or shipped(STANDARDS_FILE)
    standards = {}
    for name, entry in read_reference_file(path).items():
        try:
            groups = tuple((int(lo), float(pop)) for lo, pop in entry["groups"])
            standards[name] = Standard(name, str(entry["title"]), str(entry["source"]),
                                       tuple(int(b) for b in entry["breaks"]), groups)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReferenceFileError(f"{path}: [{name}]: missing or bad {exc}") from None
        if [g[0] for g in groups] != sorted({g[0] for g in groups}):
            raise ReferenceFileError(f"{path}: [{name}] groups must ascend by age")
    return standards


def standard(name: str) -> Standard:
    known = load_standards()
    if name not in known:
        raise ReferenceFileError(f"unknown standard {name!r} (known: {', '.join(sorted(known))}, "
                            "none)")
    return known[name]


@dataclass(frozen=True)
class Band:
    label: str  # `50-64`, `65+`
    lower: float
    upper: float | None  # exclusive; None = open


def bands(min_age: float, breaks: tuple[int, ...]) -> list[Band]:
    """Age bands from `min_age` cut at the breaks above it: 50, (65,) -> 50-64, 65+."""
    cuts = [float(min_age), *(float(b) for b in breaks if b > min_age)]
    found = []
    for lower, upper in zip(cuts, [*cuts[1:], None], strict=True):
        label = f"{lower:g}+" if upper is None else f"{lower:g}-{upper - 1:g}"
        found.append(Band(label, lower, upper))
    return found


def band_shares(std: Standard, age_bands: list[Band]) -> dict[str, float]:
    """Each band's standard population (years of a cut group split proportionally)."""
    shares = {}
    uppers = [g[0] for g in std.groups[1:]] + [std.groups[-1][0] + OPEN_GROUP_YEARS]
    for band in age_bands:
        total = 0.0
        for (lower, population), upper in zip(std.groups, uppers, strict=True):
            lo = max(lower, band.lower)
            hi = upper if band.upper is None else min(upper, band.upper)
            if hi > lo:
                total += population * (hi - lo) / (upper - lower)
        shares[band.label] = total
    return shares


def band_of(age: pl.Expr, age_bands: list[Band]) -> pl.Expr:
    """The band label of each age (null below the first band)."""
    label = pl.lit(None, dtype=pl.String)
    for band in age_bands:  # the last (oldest) band's test ends up outermost
        label = pl.when(age >= band.lower).then(pl.lit(band.label)).otherwise(label)
    return label
