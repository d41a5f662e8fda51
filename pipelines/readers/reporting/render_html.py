"""The quality report as one self-contained HTML page: charts, then the report's tables.

Written for a clinician-manager: codes read as labels (`labels`), dates as `6 Dec 2026`
(`human`); the codes, the SQL behind the counts and how drift is judged sit in one
collapsed part for analysts at the end (`analysts`).

The page fetches nothing: Vega, Vega-Lite and Vega-Embed are inlined from the bundle that
`vl-convert-python` ships (the same one Altair's offline `inline=True` save uses), each
chart's data is inlined in its specification, and a Content-Security-Policy forbids any
request, so a page opened offline, or on a machine cut off from the internet, draws the
same. Charts are drawn as SVG. Counts only: the frames come from `chart_data`.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import altair as alt
import duckdb

from pipelines.readers.reporting import charts, human
from pipelines.readers.reporting.analysts import analysts_html
from pipelines.readers.reporting.chart_data import ChartData, chart_data
from pipelines.readers.reporting.html_sections import section_html
from pipelines.readers.reporting.measure_figures import measure_figures
from pipelines.readers.reporting.model import Report
from pipelines.readers.reporting.page import html_page
from pipelines.readers.reporting.registry import registry_report


@dataclass(frozen=True)
class Figure:
    """One chart of the page, or the reason it is not drawn."""

    key: str
    title: str
    caption: str
    chart: alt.TopLevelMixin | None
    empty: str = "nothing to show in this registry yet"


def figures(data: ChartData) -> list[Figure]:
    """The page's charts in reading order."""
    ruleset = data.ruleset or "no ruleset"
    found = [
        Figure("categories", "WHO categories by sex and age",
               f"Category of each patient's latest exam under {ruleset}.",
               charts.categories_by_sex_age(data.demographics)),
        Figure("treatment", "Treatment levels by sex and age",
               f"Treatment level of each patient's latest exam under {ruleset}.",
               charts.treatment_by_sex_age(data.demographics)),
        Figure("overdue", "Overdue follow-up",
               "Patients whose next DXA was due before the report date, by months overdue.",
               charts.overdue_by_months(data.overdue), "no follow-up is overdue"),
        Figure("scanner-bmd", "Scanner drift: monthly mean BMD",
               _drift_caption(data), charts.scanner_bmd_drift(data.scanner_monthly),
               _no_monthly(data)),
        Figure("scanner-t", "Scanner drift: monthly mean T-score",
               "Mean T-score per month of each scanner (rows) at each site (columns), one"
               " line per panel; dashed orange: the registry's mean T-score at that site, all"
               " scanners together. A line that stays apart from it for months: that"
               " scanner reads (or sees) its patients differently.",
               charts.scanner_t_monthly(data.scanner_monthly), _no_monthly(data)),
        Figure("quarantine", "Quarantine reasons per run",
               f"Rows set aside by reason, at each of the latest {charts.MAX_RUNS} runs that"
               " quarantined rows.",
               charts.quarantine_by_run(data.quarantine_by_run), "no row was quarantined"),
        Figure("serial", "Significant losses and scanner changes per month",
               "Exams flagged against their previous exam, by month of the exam.",
               charts.serial_by_month(data.serial_by_month), "no serial exam flagged"),
    ]
    found += [Figure(f.key, f.title, f.caption, f.chart, f.empty)
              for f in measure_figures(data.measures_trend)]
    if len(data.rulesets) >= 2:
        first, second = data.rulesets[:2]
        found += [
            Figure("rulesets", "Ruleset comparison: treatment levels",
                   "Treatment level of each patient's latest exam under each ruleset.",
                   charts.ruleset_levels(data.ruleset_levels)),
            Figure("ruleset-crosstab", f"Ruleset comparison: {first} against {second}",
                   "Patients by their level under each ruleset (latest exams both judged);"
                   " off the diagonal the rulesets disagree.",
                   charts.ruleset_crosstab(data.ruleset_crosstab, first, second)),
        ]
    return found


def _drift_caption(data: ChartData) -> str:
    method = " How the limits are set: see For analysts, at the end." if data.drift_method else ""
    return ("Mean BMD per month of each scanner (rows) at each site (columns), inside the"
            " scanner's control limits (shaded) around its centre (dashed). A red point"
            " marks a month flagged as drift: a question for the quality team (phantom QC,"
            f" service log), not proof of a faulty scanner.{method}")


def _no_monthly(data: ChartData) -> str:
    if data.scanner_monthly is None:
        return ("this registry has no v_scanner_monthly view yet: the next `dxa run` "
                "upgrades it")
    return "no exam with a scanner and a measured site yet"


def _figure_html(figure: Figure) -> str:
    body = (f'<div class="vega" id="chart-{figure.key}"></div>' if figure.chart is not None
            else f'<p class="empty">{html.escape(figure.empty)}</p>')
    return (f'<figure class="chart" id="{figure.key}"><figcaption><strong>'
            f"{html.escape(figure.title)}</strong>{html.escape(figure.caption)}</figcaption>"
            f"{body}</figure>")


def render_page(report: Report, found: list[Figure], *, source: str,
                data: ChartData | None = None) -> str:
    """The page: title, charts, every section of the report as a table, then the
    collapsed part for analysts (`data`: the charts' data, for its ruleset and method)."""
    # not validated against the Vega-Lite schema here (a tenth of a second every night):
    # tests/pipelines/test_report_html.py validates every chart the fixture registry fills
    specs = {f.key: f.chart.to_dict(validate=False) for f in found if f.chart is not None}
    nav = "".join(f'<a href="#{f.key}">{html.escape(f.title)}</a>' for f in found)
    title = f"DXA registry quality report, {human.day(report.as_of)}"
    analysts = analysts_html(report, ruleset=data.ruleset if data else None,
                             drift_method=data.drift_method if data else None)
    generated = human.moment(dt.datetime.now())
    body = f"""<p class="lede">From {html.escape(source)}, generated {generated}.
Counts only: no patient is named here (the patient lists stay in the registry, for
authorised staff). Decision support for quality work, not treatment prescriptions.</p>
<nav>{nav}<a href="#analysts">For analysts</a></nav>
{"".join(_figure_html(f) for f in found)}
<h2>{html.escape(report.title)}</h2>
{"".join(section_html(s) for s in report.sections)}
{analysts}"""
    return html_page(title, body, specs)


def html_report(con: duckdb.DuckDBPyConnection, day: dt.date, *, source: str,
                report: Report | None = None) -> str:
    """The whole page from an open registry connection (read-only is enough).

    `report`: the registry report of `day` when the caller already holds it (the nightly
    run collects it for its summary): every section scans the whole registry, so it is
    not collected twice.
    """
    report = registry_report(con, day) if report is None else report
    data = chart_data(con, day)
    return render_page(report, figures(data), source=source, data=data)
