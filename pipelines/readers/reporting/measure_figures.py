"""The quality report's measures section: one chart per quality measure (QM-*).

Why in the nightly report as well as `dxa measures --format html`: the quality team
reads one page. Each chart is the measure's overall rate over the 8 quarters ending with
the last complete quarter before the report date, under the primary ruleset, with its
95 % Wilson interval as a band and the better direction in its title (the chart of
`pipelines.readers.measures.page`, so the two pages draw alike). A quarter whose
denominator is under 11 is suppressed: left out of the chart and of the page's data; a
measure suppressed in every quarter is not drawn, and the page says so. Counts only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import altair as alt
import duckdb
import polars as pl

from pipelines.readers.measures.catalog import measures
from pipelines.readers.measures.compute import MeasuresError, overall_trend
from pipelines.readers.measures.outputs import MIN_CELL
from pipelines.readers.measures.page import measure_chart


@dataclass(frozen=True)
class MeasureFigure:
    """One measure's chart (None: every quarter suppressed) and its words."""

    key: str
    title: str
    caption: str
    chart: alt.LayerChart | None
    empty: str


def measures_trend(con: duckdb.DuckDBPyConnection, day: dt.date,
                   ruleset: str | None) -> pl.DataFrame | None:
    """The overall rows of the 8 quarters before `day` under `ruleset`, every count (the
    figures suppress); None without a ruleset or in a registry without the measures."""
    if ruleset is None:
        return None
    try:
        return overall_trend(con, day, ruleset)
    except (MeasuresError, duckdb.CatalogException):
        return None


def measure_figures(trend: pl.DataFrame | None) -> list[MeasureFigure]:
    """A figure per measure of the catalog, in its order; none without a trend."""
    if trend is None:
        return []
    found = []
    for measure in measures():
        shown = trend.filter((pl.col("measure_id") == measure.id)
                             & (pl.col("denominator") >= MIN_CELL))
        arrow = "lower (↓)" if measure.direction == "lower" else "higher (↑)"
        caption = (f"{measure.wording} Target direction: {arrow} is better. Overall rate"
                   f" per quarter with its 95 % interval shaded; a quarter with fewer than"
                   f" {MIN_CELL} in the denominator is suppressed (not drawn).")
        if measure.caveat:
            caption += f" Caveat: {measure.caveat}."
        found.append(MeasureFigure(
            f"measure-{measure.id}", f"{measure.id}: {measure.title}", caption,
            measure_chart(measure, trend) if shown.height else None,
            f"suppressed (n < {MIN_CELL}) in every quarter"))
    return found
