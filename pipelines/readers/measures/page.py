"""`dxa measures --format html`: a small self-contained page, one chart per measure.

Each chart is the measure's overall rate quarter by quarter over the last 8 quarters,
with its 95 % Wilson interval as a band and the better direction in its title; a quarter
whose denominator is under 11 is left out of the chart (suppressed), and the tables below
say so. Built as the quality report's page is (`pipelines.readers.reporting`): Altair
charts embedded as Vega-Lite specifications, Vega inlined, a Content-Security-Policy that
forbids any request, inline JSON escaped so that no text can close its <script>.
"""

from __future__ import annotations

import html

import altair as alt
import polars as pl

from pipelines.readers.measures.catalog import Measure, measures
from pipelines.readers.measures.compute import MeasuresResult
from pipelines.readers.measures.outputs import MIN_CELL, period_section, trend_section
from pipelines.readers.reporting.page import html_page, table_html

BAND_COLOUR = "#9ecae1"


def measure_chart(measure: Measure, trend: pl.DataFrame) -> alt.LayerChart:
    """Rate over quarters with its interval band; suppressed quarters left out."""
    shown = trend.filter((pl.col("measure_id") == measure.id)
                         & (pl.col("denominator") >= MIN_CELL)).select(
        "quarter", "rate", "ci_low", "ci_high", "denominator", "numerator")
    x = alt.X("quarter:O", title="quarter", sort=None,
              scale=alt.Scale(domain=trend["quarter"].unique(maintain_order=True).to_list()))
    y = alt.Y("rate:Q", title="rate", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
    band = alt.Chart(shown).mark_area(opacity=0.35, color=BAND_COLOUR).encode(
        x=x, y=alt.Y("ci_low:Q", title="rate"), y2="ci_high:Q").properties(name="interval")
    line = alt.Chart(shown).mark_line(point=True).encode(
        x=x, y=y, tooltip=["quarter:O", "numerator:Q", "denominator:Q",
                           alt.Tooltip("rate:Q", format=".1%"),
                           alt.Tooltip("ci_low:Q", format=".1%"),
                           alt.Tooltip("ci_high:Q", format=".1%")]).properties(name="rate")
    arrow = "↓" if measure.direction == "lower" else "↑"
    return alt.layer(band, line).properties(
        width=480, height=200, title=f"{measure.id}: {arrow} {measure.better}")


def _figure(index: int, measure: Measure) -> str:
    words = (f"{measure.wording} Denominator: {measure.denominator} Numerator: "
             f"{measure.numerator} Not counted: {measure.exclusions} Source: "
             f"{measure.source}" + (f" Caveat: {measure.caveat}." if measure.caveat else ""))
    return (f'<figure class="chart" id="{html.escape(measure.id)}"><figcaption><strong>'
            f"{html.escape(measure.id)}: {html.escape(measure.title)}</strong>"
            f'{html.escape(words)}</figcaption><div class="vega" id="chart-{index}"></div>'
            "</figure>")


def render_page(result: MeasuresResult) -> str:
    """The page: heading, a chart per measure, then the period's table and the trend."""
    catalog = measures()
    specs = [measure_chart(m, result.trend).to_dict(validate=False) for m in catalog]
    period = result.request.period
    title = f"Quality measures, {period.label}"
    body = f"""<p class="lede">Counts only. Each chart: the overall rate per quarter over the last 8
quarters, with its 95 % Wilson interval shaded; a quarter with fewer than {MIN_CELL} in the
denominator is suppressed (not drawn). Decisions under {html.escape(result.ruleset)}.</p>
{"".join(_figure(i, m) for i, m in enumerate(catalog))}
{table_html(period_section(result))}
{table_html(trend_section(result))}"""
    return html_page(title, body, specs)
