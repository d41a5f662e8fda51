"""The measures of one period and their trend, asked of the registry's SQL macro.

Everything is counted by `quality_measures_over` (migrations 017 and 018): this module
picks the period, the report date and the ruleset, asks in one query for the period's rows
and for those of the 8 quarters that end with it (one pass over the exams, not nine), keeps
the period's overall rows and one breakdown and the quarters' overall rows, and gives
every measure of the catalog a row even when nothing fell in its denominator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import polars as pl

from pipelines.readers.access import reading
from pipelines.readers.measures.catalog import measure_ids, measures
from pipelines.readers.prevalence_options import parse_period
from pipelines.readers.worklists import resolve_ruleset_label
from pipelines.registry.opening import registry_present
from pipelines.registry.store import query
from schemas.errors import RegistryError

#: The breakdowns besides `overall` (the macro's `grp_by`).
BY: Final = ("scanner", "sex", "age_band")
#: Quarters in the trend, the period's own last.
TREND_QUARTERS: Final = 8
#: Age bands of the breakdown (quality_measure_age_bands()) every measure shares; a
#: measure's further band sets (its catalog `band_sets`) follow them, named
#: `<band set> <band>` (`hedis_omw 67-85`).
BAND_SET: Final = "standard"
#: Where a further band set's rows sort: after the shared bands.
_FURTHER_BANDS_ORDER: Final = 100

#: Every period asked (the chosen one and the trend's quarters) in one pass over the
#: exams; the groups in the age bands' order.
_ROWS_SQL: Final = """
    SELECT m.period_first, m.period_last, m.measure_id, m.grp_by, m.grp, m.denominator,
           m.numerator, m.rate, m.ci_low, m.ci_high, b.band_order
    FROM quality_measures_over($periods, CAST($report AS DATE), $ruleset, $bands) m
    LEFT JOIN quality_measure_age_bands() b
        ON m.grp_by = 'age_band' AND b.band_set = $bands AND b.band = m.grp"""


class MeasuresError(RegistryError):
    """The measures cannot be computed as asked (one line, exit 1)."""


@dataclass(frozen=True)
class Period:
    """A period counted: its first and last day (both counted) and how it is named."""

    first: dt.date
    last: dt.date
    label: str


@dataclass(frozen=True)
class MeasuresRequest:
    """`dxa measures`' options, checked: which registry, period, breakdown, report date."""

    db: Path
    period: Period
    by: str | None
    report_date: dt.date
    ruleset: str | None = None


@dataclass(frozen=True)
class MeasuresResult:
    """The period's rows (overall first, then the breakdown) and the overall trend."""

    request: MeasuresRequest
    ruleset: str
    rows: pl.DataFrame
    trend: pl.DataFrame


def quarter_of(day: dt.date) -> Period:
    """The calendar quarter holding `day`."""
    first = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = dt.date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return Period(first, following - dt.timedelta(days=1),
                  f"{day.year}Q{(first.month - 1) // 3 + 1}")


def last_complete_quarter(today: dt.date) -> Period:
    """The last calendar quarter that ended before `today`."""
    return quarter_of(quarter_of(today).first - dt.timedelta(days=1))


def trend_quarters(last: dt.date, count: int = TREND_QUARTERS) -> list[Period]:
    """`count` quarters, oldest first, the last one holding `last`."""
    quarters = [quarter_of(last)]
    while len(quarters) < count:
        quarters.insert(0, quarter_of(quarters[0].first - dt.timedelta(days=1)))
    return quarters


def build_request(db: Path, period: str | None, by: str | None,
                  as_of: str | None = None, ruleset: str | None = None) -> MeasuresRequest:
    """Check the options before the registry is opened (MeasuresError: one line)."""
    if not registry_present(db):
        raise MeasuresError(f"no registry at {db}")
    if by is not None and by not in BY:
        raise MeasuresError(f"--by must be {', '.join(BY)}, not {by!r}")
    try:
        report_date = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise MeasuresError(f"--as-of {as_of}: not a date (YYYY-MM-DD)") from None
    if period is None:
        chosen = last_complete_quarter(report_date)
    else:
        try:
            first, last = parse_period(period)
        except ValueError as exc:
            raise MeasuresError(str(exc)) from None
        chosen = Period(first, last, period.strip().upper())
    return MeasuresRequest(db, chosen, by, report_date, ruleset)


def _all_rows(con: duckdb.DuckDBPyConnection, periods: list[Period],
              request: MeasuresRequest, ruleset: str, bands: str = BAND_SET) -> pl.DataFrame:
    params = {"periods": [{"period_first": p.first, "period_last": p.last} for p in periods],
              "report": request.report_date, "ruleset": ruleset, "bands": bands}
    try:
        return query(con, _ROWS_SQL, params)
    except duckdb.CatalogException:
        raise MeasuresError("the registry predates the quality measures: run dxa run (or "
                            "open it for writing) once to add them") from None


def _further_bands(con: duckdb.DuckDBPyConnection, request: MeasuresRequest,
                   ruleset: str) -> list[pl.DataFrame]:
    """The period's age-band rows of each further band set, for the measures asking for
    it (ages outside its bands left out: the shared bands count them)."""
    found = []
    for bands in sorted({b for m in measures() for b in m.band_sets} - {BAND_SET}):
        asking = [m.id for m in measures() if bands in m.band_sets]
        rows = _all_rows(con, [request.period], request, ruleset, bands)
        found.append(rows.filter(
            pl.col("measure_id").is_in(asking) & (pl.col("grp_by") == "age_band")
            & pl.col("band_order").is_not_null()
        ).with_columns(grp=pl.lit(f"{bands} ") + pl.col("grp"),
                       band_order=pl.col("band_order") + _FURTHER_BANDS_ORDER))
    return found


def _of(rows: pl.DataFrame, period: Period, grp_by: tuple[str, ...]) -> pl.DataFrame:
    """One period's rows of the groups asked, every measure present, in order."""
    return with_every_measure(rows.filter(
        (pl.col("period_first") == period.first) & (pl.col("period_last") == period.last)
        & pl.col("grp_by").is_in(list(grp_by))).drop("period_first", "period_last"))


def with_every_measure(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows in catalog order (overall first), an empty overall row for a measure with
    no case in the period."""
    order = {m: i for i, m in enumerate(measure_ids())}
    empty = pl.DataFrame({"measure_id": list(order), "grp_by": "overall", "grp": "all",
                          "denominator": 0, "numerator": 0},
                         schema_overrides={"denominator": pl.Int64, "numerator": pl.Int64})
    missing = empty.join(rows.filter(pl.col("grp_by") == "overall"), on="measure_id",
                         how="anti")
    rows = pl.concat([rows, missing], how="diagonal_relaxed")
    grp_order = pl.col("grp_by").replace_strict({"overall": 0}, default=1, return_dtype=pl.Int8)
    return rows.filter(pl.col("measure_id").is_in(list(order))).sort(
        pl.col("measure_id").replace_strict(order, return_dtype=pl.Int32), grp_order,
        "band_order", "grp", nulls_last=True).drop("band_order")


def _trend(found: pl.DataFrame, quarters: list[Period]) -> pl.DataFrame:
    """The quarters' overall rows, quarter by quarter (`quarter`, `quarter_start`)."""
    return pl.concat([_of(found, quarter, ("overall",)).with_columns(
        quarter=pl.lit(quarter.label), quarter_start=pl.lit(quarter.first))
        for quarter in quarters])


def compute(request: MeasuresRequest, lock_timeout_s: float | None = None) -> MeasuresResult:
    """The period's measures and the overall trend over 8 quarters, read-only."""
    quarters = trend_quarters(request.period.last)
    with reading(request.db, lock_timeout_s, MeasuresError) as con:
        ruleset = resolve_ruleset_label(con, request.ruleset, MeasuresError)
        found = _all_rows(con, [request.period, *quarters], request, ruleset)
        if request.by == "age_band":
            found = pl.concat([found, *_further_bands(con, request, ruleset)])
    groups = ("overall", request.by) if request.by else ("overall",)
    return MeasuresResult(request, ruleset, _of(found, request.period, groups),
                          _trend(found, quarters))


def overall_trend(con: duckdb.DuckDBPyConnection, report_date: dt.date,
                  ruleset: str) -> pl.DataFrame:
    """The overall rows of the 8 quarters ending with the last complete quarter before
    `report_date`, from an open connection (the quality report's measures section); every
    count shown: the caller suppresses small cells."""
    period = last_complete_quarter(report_date)
    quarters = trend_quarters(period.last)
    request = MeasuresRequest(Path(), period, None, report_date, ruleset)
    return _trend(_all_rows(con, quarters, request, ruleset), quarters)
