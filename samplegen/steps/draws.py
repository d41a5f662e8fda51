"""What every build step shares: the seed's random streams, the date range and the
column names used throughout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from samplegen._rng import Rng

#: The patient is a woman (patient-level helper column).
FEMALE = pl.col("_female")
#: The visit number of an exam row: 0 = the patient's first exam.
VISIT = pl.col("v")


@dataclass(frozen=True)
class Draws:
    """What every step needs: the seed's random streams and the date range."""

    seed: int
    start: date
    range_days: int
    patient: Rng  # keyed on the patient number
    exam: Rng  # keyed on patient and visit

    @classmethod
    def of(cls, seed: int, start: date, end: date) -> Draws:
        return cls(
            seed=seed,
            start=start,
            range_days=(end - start).days,
            patient=Rng(seed, "p"),
            exam=Rng(seed, pl.col("p") * 4 + pl.col("v").cast(pl.UInt64)),
        )
