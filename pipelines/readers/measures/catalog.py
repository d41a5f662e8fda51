"""The quality measures' catalog: ID, wording, source, direction and the macro of each.

One source (`pipelines/registry/quality_measures.toml`, beside the migration that holds
each measure's SQL), so that a new measure is one more entry, and the wording a report
prints is the wording the quality team signed off.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

CATALOG_FILE = "quality_measures.toml"


@dataclass(frozen=True)
class Measure:
    """One measure: what it counts in words, which way is better, and its SQL macro."""

    id: str
    title: str
    wording: str
    denominator: str
    numerator: str
    exclusions: str
    unit: str
    direction: Literal["lower", "higher"]
    source: str
    macro: str
    #: A warning every report prints beside the measure ("" for none).
    caveat: str = ""
    #: The age bands of its age breakdown (quality_measure_age_bands()), the first the
    #: one every measure shares.
    band_sets: tuple[str, ...] = ("standard",)

    @property
    def better(self) -> str:
        """`lower is better` or `higher is better`, as charts and tables say it."""
        return f"{self.direction} is better"

    @property
    def noted(self) -> str:
        """Which way is better, and the caveat if any, as a report's note says it."""
        return f"{self.better} ({self.caveat})" if self.caveat else self.better


@cache
def measures() -> tuple[Measure, ...]:
    """Every measure, in the catalog's order (the order reports show them)."""
    text = resources.files("pipelines.registry").joinpath(CATALOG_FILE).read_text(
        encoding="utf-8")
    found = tuple(Measure(**{**entry, "band_sets": tuple(entry.get("band_sets", ("standard",)))})
                  for entry in tomllib.loads(text)["measure"])
    for measure in found:
        if measure.direction not in ("lower", "higher"):
            raise ValueError(f"{measure.id}: direction must be lower or higher")
    return found


def measure_ids() -> tuple[str, ...]:
    return tuple(m.id for m in measures())
