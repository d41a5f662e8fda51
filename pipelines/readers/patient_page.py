"""`dxa patient ID --format html`: one patient's history as a small self-contained page.

A chart per site of BMD over time, with the least significant change (LSC) drawn around
each previous exam's BMD (shaded: a point outside the band before it changed
significantly) and around the baseline (dashed outline), then the three tables of
`dxa patient`. Built as the quality report's page is (`pipelines.readers.reporting`):
Altair charts embedded as Vega-Lite specifications, Vega inlined, a Content-Security-Policy
that forbids any request, so the page draws offline and fetches nothing.

The page names a patient: it is written 0600 (its owner only) from its first byte,
whatever the umask, under a temporary name moved into place.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path

import altair as alt
import polars as pl

from pipelines.readers.patient import PatientError, PatientHistory
from pipelines.readers.reporting import order
from pipelines.readers.reporting.page import html_page, table_html
from pipelines.runtime.privacy import REGISTRY_MODE, make_private

BAND_COLOUR = "#9ecae1"
LOSS_COLOUR = "#d7301f"
_DATE = alt.X("exam_date:T", title="exam date")
_FROM = alt.X("prior_date:T", title="exam date")
_BMD = "BMD (g/cm²)"


def _bands(changes: pl.DataFrame, comparison: str) -> pl.DataFrame:
    """LSC bands: the earlier BMD +- LSC %, from the earlier exam's date to the exam's.

    `previous`: one band per comparison with the exam before; `baseline`: one band per
    baseline, drawn to the latest exam compared with it.
    """
    rows = changes.filter((pl.col("comparison") == comparison) & pl.col("lsc_pct").is_not_null())
    if comparison == "baseline":
        rows = rows.group_by("scanner", "prior_date", "prior_bmd_g_cm2").agg(
            pl.col("exam_date").max(), pl.col("lsc_pct").first())
    share = pl.col("lsc_pct") / 100
    return rows.select(
        "scanner", "prior_date", "exam_date", "lsc_pct",
        (pl.col("prior_bmd_g_cm2") * (1 - share)).alias("lower"),
        (pl.col("prior_bmd_g_cm2") * (1 + share)).alias("upper"))


def site_chart(site: str, exams: pl.DataFrame, changes: pl.DataFrame) -> alt.LayerChart | None:
    """BMD over time at one site, with the LSC bands; None when no BMD was measured."""
    points = exams.filter((pl.col("site") == site) & pl.col("bmd_g_cm2").is_not_null())
    if points.is_empty():
        return None
    changes = changes.filter(pl.col("site") == site)
    y = alt.Y("bmd_g_cm2:Q", title=_BMD, scale=alt.Scale(zero=False))
    band_y = alt.Y("lower:Q", title=_BMD, scale=alt.Scale(zero=False))
    layers: list[alt.Chart] = []
    previous = _bands(changes, "previous")
    if previous.height:
        layers.append(alt.Chart(previous).mark_rect(opacity=0.3, color=BAND_COLOUR).encode(
            x=_FROM, x2="exam_date:T", y=band_y, y2="upper:Q",
            tooltip=[alt.Tooltip("prior_date:T", title="from"),
                     alt.Tooltip("exam_date:T", title="to"),
                     alt.Tooltip("lsc_pct:Q", title="LSC %")]).properties(name="lsc_previous"))
    baseline = _bands(changes, "baseline")
    if baseline.height:
        layers.append(alt.Chart(baseline).mark_rect(
            fillOpacity=0, stroke="#636363", strokeDash=[4, 3]).encode(
            x=_FROM, x2="exam_date:T", y=band_y, y2="upper:Q").properties(name="lsc_baseline"))
    layers.append(alt.Chart(points).mark_line(point=alt.OverlayMarkDef(size=40)).encode(
        x=_DATE, y=y, color=alt.Color("scanner:N", title="scanner"),
        tooltip=["exam_date:T", "scanner:N", "bmd_g_cm2:Q", "t_score:Q", "z_score:Q"],
    ).properties(name="bmd"))
    losses = (changes.filter(pl.col("significant").fill_null(False)
                             & (pl.col("direction") == "decrease"))
              .select("exam_date", "bmd_g_cm2").unique().sort("exam_date"))
    if losses.height:
        layers.append(alt.Chart(losses).mark_point(
            color=LOSS_COLOUR, size=120, filled=True).encode(x=_DATE, y=y).properties(
            name="loss"))  # Vega names the marks `loss_marks`
    return alt.layer(*layers).properties(width=520, height=220, title=f"{site}: BMD")


def site_charts(history: PatientHistory) -> dict[str, alt.LayerChart]:
    """One chart per measured site, in the contract's site order."""
    present = set(history.exams["site"].unique().to_list())
    sites = [s for s in order.SITES if s in present] + sorted(present - set(order.SITES))
    charts = {site: site_chart(site, history.exams, history.changes) for site in sites}
    return {site: chart for site, chart in charts.items() if chart is not None}


CAPTION = ("BMD at each exam (colour: scanner). Shaded: the least significant change (LSC)"
           " around the previous exam's BMD on the same scanner; a point outside the band"
           " before it changed significantly. Dashed: the LSC around the baseline. Red: a"
           " significant loss.")


def render_page(history: PatientHistory) -> str:
    """The page: heading, a chart per site, then the tables of `dxa patient`."""
    charts = site_charts(history)
    specs = {site: chart.to_dict(validate=False) for site, chart in charts.items()}
    figures = "".join(
        f'<figure class="chart" id="{site}"><figcaption><strong>{html.escape(site)}'
        f'</strong>{html.escape(CAPTION)}</figcaption><div class="vega" id="chart-{site}">'
        "</div></figure>" for site in charts)
    title = f"DXA history of patient {history.patient_id}"
    body = f"""<p class="lede">Patient identifiers: for authorised staff only; keep this page
where the patients' records are kept, and do not mail it. {history.exam_count} exams;
decisions under
{html.escape(history.ruleset)}. Decision support for quality work, not treatment
prescriptions. Generated {dt.datetime.now().isoformat(sep=" ", timespec="minutes")}.</p>
{figures}
{"".join(table_html(s) for s in history.sections())}"""
    return html_page(title, body, specs, private=True)


def check_output(output: Path) -> None:
    """Refuse an --output whose folder is missing, before the registry is read."""
    if not output.parent.is_dir():
        raise PatientError(f"--output {output}: no folder {output.parent}")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only from the first byte, whatever
    the umask; under a temporary name moved into place (never half a page)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, REGISTRY_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as page:
            page.write(text)
        make_private(temporary)  # a umask that took the owner's bits is undone too
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_patient_page(history: PatientHistory, output: Path) -> None:
    """`dxa patient ID --format html --output FILE`: the page, written 0600."""
    check_output(output)
    write_private(output, render_page(history))
