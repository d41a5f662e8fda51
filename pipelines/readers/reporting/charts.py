"""The HTML report's charts as Vega-Lite specifications, built with Altair.

One function per chart, each taking a frame of counts from `chart_data` and returning an
Altair chart (or None when there is nothing to draw). Colours follow the clinical order
of `pipelines.readers.reporting.order`, fixed per value, so a category keeps its colour from one
night's report to the next.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from pipelines.readers.reporting import order
from pipelines.readers.reporting.chart_data import MAX_MONTHS_OVERDUE

CATEGORY_COLOURS = ("#7f0000", "#e6550d", "#31a354", "#756bb1", "#9ecae1", "#bdbdbd")
TREATMENT_COLOURS = ("#b30000", "#fc8d59", "#fee08b", "#1a9850", "#4575b4", "#bdbdbd")
SERIAL_COLOURS = ("#b30000", "#fc8d59", "#4575b4")
#: The quarantine chart shows this many of the latest runs that quarantined rows.
MAX_RUNS = 60

#: Facets by site in the contract's order, sorted on a rank column.
_SITE_SORT = alt.EncodingSortField(field="site_rank", op="min")
_AGE = alt.X("age_band:N", title="age at the exam", sort=list(order.labels(order.AGE_BANDS)))


def _ranked(frame: pl.DataFrame, column: str, values: tuple[str, ...]) -> pl.DataFrame:
    """The frame with `<column>_rank`: a value's place in the clinical order (stack order)."""
    rank = {v: i for i, v in enumerate(values)}
    return frame.with_columns(
        pl.col(column).replace_strict(rank, default=len(values), return_dtype=pl.Int32)
        .alias(f"{column}_rank"))


def _stacked_by_sex_age(frame: pl.DataFrame, column: str, values: tuple[str, ...],
                        colours: tuple[str, ...], title: str) -> alt.FacetChart | None:
    if frame.is_empty():
        return None
    counts = (frame.drop_nulls("age_band")
              .group_by("sex", "age_band", column).agg(pl.col("patients").sum())
              .sort("sex", "age_band", column))
    counts = _ranked(counts, column, values)
    return alt.Chart(counts, width=260, height=200).mark_bar().encode(
        x=_AGE,
        y=alt.Y("sum(patients):Q", title="patients"),
        color=alt.Color(f"{column}:N", title=title,
                        scale=alt.Scale(domain=list(values), range=list(colours)),
                        sort=list(values)),
        order=alt.Order(f"{column}_rank:Q"),
        tooltip=["sex:N", "age_band:N", f"{column}:N", "patients:Q"],
    ).facet(column=alt.Column("sex:N", title="sex"))


def categories_by_sex_age(demographics: pl.DataFrame) -> alt.FacetChart | None:
    """WHO (or Z) category of each patient's latest exam, by sex and age band."""
    return _stacked_by_sex_age(demographics, "category", order.CATEGORIES, CATEGORY_COLOURS,
                               "category")


def treatment_by_sex_age(demographics: pl.DataFrame) -> alt.FacetChart | None:
    """Treatment level of each patient's latest exam, by sex and age band."""
    return _stacked_by_sex_age(demographics, "treatment", order.TREATMENTS, TREATMENT_COLOURS,
                               "treatment")


def overdue_by_months(overdue: pl.DataFrame) -> alt.Chart | None:
    """Patients overdue for follow-up by whole months overdue (the last bar: 24 or more)."""
    if overdue.is_empty():
        return None
    return alt.Chart(overdue, width=560, height=220).mark_bar().encode(
        x=alt.X("months_overdue:O", title=f"months overdue ({MAX_MONTHS_OVERDUE}: "
                f"{MAX_MONTHS_OVERDUE} or more)", sort="ascending"),
        xOffset=alt.XOffset("ruleset:N"),
        y=alt.Y("patients:Q", title="patients"),
        color=alt.Color("ruleset:N", title="ruleset"),
        tooltip=["ruleset:N", "months_overdue:O", "patients:Q"],
    )


def _every_cell(frame: pl.DataFrame) -> pl.DataFrame:
    """One empty row for each scanner and site without exams, so the facet grid holds every
    cell: Vega fills a grid in order, and a missing cell would shift the next ones."""
    cells = frame.select("scanner_serial").unique().join(
        frame.select("site", "site_rank").unique(), how="cross")
    missing = cells.join(frame.select("scanner_serial", "site").unique(),
                         on=["scanner_serial", "site"], how="anti")
    return pl.concat([frame, missing], how="diagonal").sort("scanner_serial", "site_rank")


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
        tooltip=["scanner_serial:N", "site:N", alt.Tooltip("month:T", format="%Y-%m"),
                 "exams:Q", alt.Tooltip("mean_bmd_g_cm2:Q", format=".3f"), "drift:N"])
    drift = base.mark_point(color="#d7301f", size=70, filled=True).encode(
        x=month, y="mean_bmd_g_cm2:Q").transform_filter("datum.drift").properties(
        name="drift")  # Vega names the marks `drift_marks` (a class the page test finds)
    data = _every_cell(_ranked(monthly.select(
        "scanner_serial", "site", "month", "exams", "mean_bmd_g_cm2", "center_bmd_g_cm2",
        "lower_limit_bmd_g_cm2", "upper_limit_bmd_g_cm2", "drift"), "site", order.SITES))
    return alt.layer(band, centre, mean, drift, data=data).facet(
        row=alt.Row("scanner_serial:N", title="scanner"),
        column=alt.Column("site:N", title="site", sort=_SITE_SORT),
    ).resolve_scale(y="independent")


def scanner_t_monthly(monthly: pl.DataFrame | None) -> alt.FacetChart | None:
    """Monthly mean T-score per scanner, by site, against the registry's mean T-score."""
    if monthly is None or monthly.is_empty():
        return None
    base = alt.Chart(width=220, height=160)
    lines = base.mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("month:T", title="month"),
        y=alt.Y("mean_t_score:Q", title="mean T-score", scale=alt.Scale(zero=False)),
        color=alt.Color("scanner_serial:N", title="scanner"),
        tooltip=["scanner_serial:N", alt.Tooltip("month:T", format="%Y-%m"), "exams:Q",
                 alt.Tooltip("mean_t_score:Q", format=".2f")])
    registry_mean = base.mark_rule(color="#252525", strokeDash=[4, 3]).encode(
        y="mean(registry_mean_t_score):Q")
    data = _ranked(monthly.select("scanner_serial", "site", "month", "exams", "mean_t_score",
                                  "registry_mean_t_score"), "site", order.SITES)
    return alt.layer(lines, registry_mean, data=data).facet(
        column=alt.Column("site:N", title="site", sort=_SITE_SORT))


def quarantine_by_run(frame: pl.DataFrame) -> alt.Chart | None:
    """Quarantined rows per run (the latest runs that set rows aside), stacked by reason."""
    if frame.is_empty():
        return None
    runs = frame.with_columns(pl.col("started_at").dt.strftime("%Y-%m-%d %H:%M").alias("run"))
    shown = runs["run"].unique().sort().tail(MAX_RUNS)
    runs = runs.filter(pl.col("run").is_in(shown.implode()))
    step = max(6, min(40, 560 // shown.len()))
    return alt.Chart(runs.drop("started_at", "run_id"), width=alt.Step(step), height=240
                     ).mark_bar().encode(
        x=alt.X("run:O", title="run started", sort="ascending"),
        y=alt.Y("sum(rows):Q", title="quarantined rows"),
        color=alt.Color("reason:N", title="reason", legend=alt.Legend(labelLimit=360)),
        tooltip=["run:O", "reason:N", "rows:Q"],
    )


def serial_by_month(frame: pl.DataFrame) -> alt.Chart | None:
    """Exams with a significant loss or a scanner change, per month of the exam."""
    if frame.is_empty():
        return None
    return alt.Chart(frame, width=560, height=220).mark_bar().encode(
        x=alt.X("yearmonth(month):T", title="month of the exam"),
        y=alt.Y("sum(exams):Q", title="exams"),
        color=alt.Color("code:N", title="flag",
                        scale=alt.Scale(domain=list(order.SERIAL_FLAGS),
                                        range=list(SERIAL_COLOURS))),
        tooltip=[alt.Tooltip("month:T", format="%Y-%m"), "code:N", "exams:Q"],
    )


def ruleset_levels(frame: pl.DataFrame) -> alt.Chart | None:
    """Treatment levels of the latest exams under each ruleset, side by side."""
    if frame.is_empty():
        return None
    return alt.Chart(frame, width=560, height=220).mark_bar().encode(
        x=alt.X("treatment:N", title="treatment", sort=list(order.TREATMENTS)),
        xOffset=alt.XOffset("ruleset:N"),
        y=alt.Y("patients:Q", title="patients"),
        color=alt.Color("ruleset:N", title="ruleset"),
        tooltip=["ruleset:N", "treatment:N", "patients:Q"],
    )


def ruleset_crosstab(frame: pl.DataFrame, first: str, second: str) -> alt.LayerChart | None:
    """Patients by treatment level under two rulesets: off the diagonal, they disagree."""
    if frame.is_empty():
        return None
    levels = list(order.TREATMENTS)
    base = alt.Chart(frame, width=300, height=240).encode(
        x=alt.X("second_level:N", title=f"treatment under {second}", sort=levels),
        y=alt.Y("first_level:N", title=f"treatment under {first}", sort=levels))
    cells = base.mark_rect().encode(
        color=alt.Color("patients:Q", title="patients", scale=alt.Scale(scheme="blues")),
        tooltip=["first_level:N", "second_level:N", "patients:Q"])
    labels = base.mark_text(fontSize=11).encode(text="patients:Q")
    return alt.layer(cells, labels)
