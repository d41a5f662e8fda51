"""The HTML report's charts as Vega-Lite specifications, built with Altair.

One function per chart, each taking a frame of counts from `chart_data` and returning an
Altair chart (or None when there is nothing to draw). Codes reach the charts as codes and
leave them as labels (`labels`): legends, axes, panel headers and tooltips read words.
Colours follow the clinical order of `pipelines.readers.reporting.order`, fixed per
value, so a category keeps its colour from one night's report to the next.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from pipelines.readers.reporting import order
from pipelines.readers.reporting.chart_data import MAX_MONTHS_OVERDUE
from pipelines.readers.reporting.human import moment_expr
from pipelines.readers.reporting.labels import Vocabulary, label, labelled

CATEGORY_COLOURS = ("#7f0000", "#e6550d", "#31a354", "#756bb1", "#9ecae1", "#bdbdbd")
TREATMENT_COLOURS = ("#b30000", "#fc8d59", "#fee08b", "#1a9850", "#4575b4", "#bdbdbd")
SERIAL_COLOURS = ("#b30000", "#fc8d59", "#4575b4")
#: The quarantine chart shows this many of the latest runs that quarantined rows.
MAX_RUNS = 60
#: Legends hold labels, not codes: room for the longest.
_LEGEND = alt.Legend(labelLimit=360)
#: Months in tooltips as people write them (`Mar 2024`).
_MONTH = "%b %Y"

#: Facets by site in the contract's order, sorted on a rank column.
_SITE_SORT = alt.EncodingSortField(field="site_rank", op="min")
_AGE = alt.X("age_band:N", title="age at the exam", sort=list(order.labels(order.AGE_BANDS)))


def _labels(frame: pl.DataFrame, column: str, vocabulary: Vocabulary) -> pl.DataFrame:
    """The frame with `column`'s codes replaced by their labels."""
    codes = frame[column].unique().drop_nulls().to_list()
    return frame.with_columns(pl.col(column).replace_strict(
        {code: label(vocabulary, code) for code in codes}, default=None,
        return_dtype=pl.String))


def _ranked(frame: pl.DataFrame, column: str, values: tuple[str, ...]) -> pl.DataFrame:
    """The frame with `<column>_rank`: a value's place in the clinical order (stack order)."""
    rank = {v: i for i, v in enumerate(values)}
    return frame.with_columns(
        pl.col(column).replace_strict(rank, default=len(values), return_dtype=pl.Int32)
        .alias(f"{column}_rank"))


def _stacked_by_sex_age(frame: pl.DataFrame, column: str, vocabulary: Vocabulary,
                        colours: tuple[str, ...], title: str) -> alt.FacetChart | None:
    if frame.is_empty():
        return None
    values = order.CATEGORIES if vocabulary is Vocabulary.CATEGORY else order.TREATMENTS
    counts = (frame.drop_nulls("age_band")
              .group_by("sex", "age_band", column).agg(pl.col("patients").sum())
              .sort("sex", "age_band", column))
    counts = _labels(_labels(_ranked(counts, column, values), column, vocabulary),
                     "sex", Vocabulary.SEX)
    domain = labelled(vocabulary, values)
    return alt.Chart(counts, width=260, height=200).mark_bar().encode(
        x=_AGE,
        y=alt.Y("sum(patients):Q", title="patients"),
        color=alt.Color(f"{column}:N", title=title, legend=_LEGEND,
                        scale=alt.Scale(domain=domain, range=list(colours)), sort=domain),
        order=alt.Order(f"{column}_rank:Q"),
        tooltip=[alt.Tooltip("sex:N", title="sex"), alt.Tooltip("age_band:N", title="age"),
                 alt.Tooltip(f"{column}:N", title=title), "patients:Q"],
    ).facet(column=alt.Column("sex:N", title=None,
                              sort=labelled(Vocabulary.SEX, ("F", "M"))))


def categories_by_sex_age(demographics: pl.DataFrame) -> alt.FacetChart | None:
    """WHO (or Z) category of each patient's latest exam, by sex and age band."""
    return _stacked_by_sex_age(demographics, "category", Vocabulary.CATEGORY,
                               CATEGORY_COLOURS, "category")


def treatment_by_sex_age(demographics: pl.DataFrame) -> alt.FacetChart | None:
    """Treatment level of each patient's latest exam, by sex and age band."""
    return _stacked_by_sex_age(demographics, "treatment", Vocabulary.TREATMENT,
                               TREATMENT_COLOURS, "treatment level")


def overdue_by_months(overdue: pl.DataFrame) -> alt.Chart | None:
    """Patients overdue for follow-up by whole months overdue (the last bar: 24 or more)."""
    if overdue.is_empty():
        return None
    last = MAX_MONTHS_OVERDUE
    return alt.Chart(overdue, width=560, height=220).mark_bar().encode(
        x=alt.X("months_overdue:O", title="months overdue", sort="ascending",
                axis=alt.Axis(labelExpr=f"datum.value == {last} ? '{last}+' : datum.label")),
        xOffset=alt.XOffset("ruleset:N"),
        y=alt.Y("patients:Q", title="patients"),
        color=alt.Color("ruleset:N", title="ruleset"),
        tooltip=["ruleset:N", alt.Tooltip("months_overdue:O", title="months overdue"),
                 "patients:Q"],
    )


def _by_site(monthly: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """The monthly frame's `columns`, its sites ranked in the contract's order and read as
    labels, with a row for every scanner and site (`_every_cell`)."""
    frame = _ranked(monthly.select("scanner_serial", "site", *columns), "site", order.SITES)
    return _every_cell(_labels(frame, "site", Vocabulary.SITE))


def _every_cell(frame: pl.DataFrame) -> pl.DataFrame:
    """One empty row for each scanner and site without exams, so the facet grid holds every
    cell: Vega fills a grid in order, and a missing cell would shift the next ones."""
    cells = frame.select("scanner_serial").unique().join(
        frame.select("site", "site_rank").unique(), how="cross")
    missing = cells.join(frame.select("scanner_serial", "site").unique(),
                         on=["scanner_serial", "site"], how="anti")
    return pl.concat([frame, missing], how="diagonal").sort("scanner_serial", "site_rank")


def _scanner_grid(chart: alt.LayerChart) -> alt.FacetChart:
    """One panel per scanner (rows) and site (columns, in the contract's order)."""
    return chart.facet(row=alt.Row("scanner_serial:N", title="scanner"),
                       column=alt.Column("site:N", title=None, sort=_SITE_SORT))


def _month_tooltip() -> list[alt.Tooltip]:
    return [alt.Tooltip("scanner_serial:N", title="scanner"), "site:N",
            alt.Tooltip("month:T", format=_MONTH), "exams:Q"]


def scanner_bmd_drift(monthly: pl.DataFrame | None) -> alt.FacetChart | None:
    """Monthly mean BMD per scanner and site inside the control limits; drift in red."""
    if monthly is None or monthly.is_empty():
        return None
    base = alt.Chart(width=170, height=110)
    month = alt.X("month:T", title="month")
    band = base.mark_area(opacity=0.25, color="#9ecae1").encode(
        x=month, y=alt.Y("lower_limit_bmd_g_cm2:Q", title="mean BMD (g/cm²)",
                         scale=alt.Scale(zero=False)),
        y2="upper_limit_bmd_g_cm2:Q")
    centre = base.mark_line(color="#3182bd", strokeDash=[4, 3]).encode(
        x=month, y="center_bmd_g_cm2:Q")
    mean = base.mark_line(color="#252525", point=alt.OverlayMarkDef(size=14)).encode(
        x=month, y="mean_bmd_g_cm2:Q",
        tooltip=[*_month_tooltip(),
                 alt.Tooltip("mean_bmd_g_cm2:Q", title="mean BMD", format=".3f"),
                 alt.Tooltip("drift:N", title="drift")])
    drift = base.mark_point(color="#d7301f", size=70, filled=True).encode(
        x=month, y="mean_bmd_g_cm2:Q").transform_filter("datum.drift").properties(
        name="drift")  # Vega names the marks `drift_marks` (a class the page test finds)
    data = _by_site(monthly, "month", "exams", "mean_bmd_g_cm2", "center_bmd_g_cm2",
                    "lower_limit_bmd_g_cm2", "upper_limit_bmd_g_cm2", "drift")
    return _scanner_grid(alt.layer(band, centre, mean, drift, data=data)
                         ).resolve_scale(y="independent")


def scanner_t_monthly(monthly: pl.DataFrame | None) -> alt.FacetChart | None:
    """Monthly mean T-score, one line per panel (a scanner at a site), against the
    registry's mean T-score at that site (dashed): small multiples, one scale, so a
    scanner that reads low or high stands apart from the reference at a glance."""
    if monthly is None or monthly.is_empty():
        return None
    base = alt.Chart(width=170, height=90)
    line = base.mark_line(color="#252525", strokeWidth=1.2,
                          point=alt.OverlayMarkDef(size=8, color="#252525")).encode(
        x=alt.X("month:T", title="month"),
        y=alt.Y("mean_t_score:Q", title="mean T-score", scale=alt.Scale(zero=False)),
        tooltip=[*_month_tooltip(),
                 alt.Tooltip("mean_t_score:Q", title="mean T-score", format=".2f"),
                 alt.Tooltip("registry_mean_t_score:Q", title="registry's mean",
                             format=".2f")])
    # named: Vega gives its marks the class `registry_mean_marks` (a test counts them)
    reference = base.mark_rule(color="#e6550d", strokeDash=[5, 3], strokeWidth=1.5).encode(
        y="mean(registry_mean_t_score):Q").properties(name="registry_mean")
    data = _by_site(monthly, "month", "exams", "mean_t_score", "registry_mean_t_score")
    return _scanner_grid(alt.layer(line, reference, data=data))


def quarantine_by_run(frame: pl.DataFrame) -> alt.Chart | None:
    """Quarantined rows per run (the latest runs that set rows aside), stacked by reason."""
    if frame.is_empty():
        return None
    started = frame["started_at"].unique().sort().tail(MAX_RUNS)
    runs = _labels(frame.filter(pl.col("started_at").is_in(started.implode())),
                   "reason", Vocabulary.REASON)
    runs = runs.with_columns(moment_expr("started_at").alias("run"))
    shown = started.to_frame().select(moment_expr("started_at")).to_series().unique(
        maintain_order=True).to_list()
    step = max(6, min(40, 560 // len(shown)))
    return alt.Chart(runs.drop("started_at", "run_id"), width=alt.Step(step), height=240
                     ).mark_bar().encode(
        x=alt.X("run:O", title="run started", sort=shown),
        y=alt.Y("sum(rows):Q", title="quarantined rows"),
        color=alt.Color("reason:N", title="reason", legend=_LEGEND),
        tooltip=[alt.Tooltip("run:O", title="run started"), "reason:N", "rows:Q"],
    )


def serial_by_month(frame: pl.DataFrame) -> alt.Chart | None:
    """Exams with a significant loss or a scanner change, per month of the exam."""
    if frame.is_empty():
        return None
    domain = labelled(Vocabulary.FLAG, order.SERIAL_FLAGS)
    return alt.Chart(_labels(frame, "code", Vocabulary.FLAG), width=560, height=220
                     ).mark_bar().encode(
        x=alt.X("yearmonth(month):T", title="month of the exam"),
        y=alt.Y("sum(exams):Q", title="exams"),
        color=alt.Color("code:N", title="flag", legend=_LEGEND,
                        scale=alt.Scale(domain=domain, range=list(SERIAL_COLOURS))),
        tooltip=[alt.Tooltip("month:T", format=_MONTH), alt.Tooltip("code:N", title="flag"),
                 "exams:Q"],
    )


def ruleset_levels(frame: pl.DataFrame) -> alt.Chart | None:
    """Treatment levels of the latest exams under each ruleset, side by side."""
    if frame.is_empty():
        return None
    levels = labelled(Vocabulary.TREATMENT, order.TREATMENTS)
    return alt.Chart(_labels(frame, "treatment", Vocabulary.TREATMENT), width=460
                     ).mark_bar().encode(
        y=alt.Y("treatment:N", title=None, sort=levels, axis=alt.Axis(labelLimit=320)),
        yOffset=alt.YOffset("ruleset:N"),
        x=alt.X("patients:Q", title="patients"),
        color=alt.Color("ruleset:N", title="ruleset"),
        tooltip=["ruleset:N", alt.Tooltip("treatment:N", title="treatment level"),
                 "patients:Q"],
    )


def ruleset_crosstab(frame: pl.DataFrame, first: str, second: str) -> alt.LayerChart | None:
    """Patients by treatment level under two rulesets: off the diagonal, they disagree."""
    if frame.is_empty():
        return None
    levels = labelled(Vocabulary.TREATMENT, order.TREATMENTS)
    frame = _labels(_labels(frame, "first_level", Vocabulary.TREATMENT), "second_level",
                    Vocabulary.TREATMENT)
    base = alt.Chart(frame, width=300, height=240).encode(
        x=alt.X("second_level:N", title=f"treatment level under {second}", sort=levels,
                axis=alt.Axis(labelAngle=-35, labelLimit=240)),
        y=alt.Y("first_level:N", title=f"treatment level under {first}", sort=levels,
                axis=alt.Axis(labelLimit=320)))
    cells = base.mark_rect().encode(
        color=alt.Color("patients:Q", title="patients", scale=alt.Scale(scheme="blues")),
        tooltip=[alt.Tooltip("first_level:N", title=first),
                 alt.Tooltip("second_level:N", title=second), "patients:Q"])
    labels = base.mark_text(fontSize=11).encode(text="patients:Q")
    return alt.layer(cells, labels)
