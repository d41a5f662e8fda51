"""What leaves the registry: the measures with small cells hidden, as table, CSV, JSON.

A denominator under 11 is shown as `suppressed (n < 11)` (as public health agencies do
for small cells, so that no patient can be singled out): its numerator, rate and interval
are left blank. The registry's own macro shows every count; only these outputs hide them.
"""

from __future__ import annotations

import json
from typing import Final

import polars as pl

from pipelines.readers.measures.catalog import measure_ids, measures
from pipelines.readers.measures.compute import MeasuresResult
from pipelines.readers.reporting.model import Column, Kind, Section, section_from_frame
from pipelines.readers.spreadsheet_cells import neutralise

#: The smallest denominator shown.
MIN_CELL: Final = 11
SUPPRESSED: Final = f"suppressed (n < {MIN_CELL})"
_HIDDEN: Final = ("numerator", "rate", "ci_low", "ci_high")

#: The columns of every output (table, CSV, JSON), in order.
COLUMNS: Final = (
    Column("measure_id", Kind.TEXT, "measure"), Column("grp_by", Kind.TEXT, "by"),
    Column("grp", Kind.TEXT, "group"), Column("denominator", Kind.TEXT),
    Column("numerator", Kind.INT), Column("rate", Kind.FLOAT),
    Column("ci_low", Kind.FLOAT, "95 % CI low"), Column("ci_high", Kind.FLOAT, "95 % CI high"),
)
TREND_COLUMNS: Final = (Column("quarter", Kind.TEXT), *COLUMNS[:1], *COLUMNS[3:])


def suppressed(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows as they leave the registry: a denominator under 11 reads `suppressed
    (n < 11)`, its numerator, rate and interval blank; rates and intervals to 4 decimals."""
    small = pl.col("denominator") < MIN_CELL
    return rows.with_columns(
        *(pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in _HIDDEN),
    ).with_columns(
        pl.when(small).then(pl.lit(SUPPRESSED))
        .otherwise(pl.col("denominator").cast(pl.String)).alias("denominator"),
        *(pl.col(c).round(4) for c in ("rate", "ci_low", "ci_high")),
    )


def period_section(result: MeasuresResult) -> Section:
    """The period's rows, overall then the breakdown, as the table prints them."""
    period = result.request.period
    note = (f"{period.first} to {period.last}, as of {result.request.report_date}, decisions "
            f"under {result.ruleset}. Rates with 95 % Wilson intervals; " + "; ".join(
                f"{m.id}: {m.noted}" for m in measures()) + ".")
    return section_from_frame(suppressed(result.rows), key="measures", columns=COLUMNS,
                              title=f"Quality measures, {period.label}", note=note)


def trend_section(result: MeasuresResult) -> Section:
    """The overall rows of the 8 quarters ending with the period, quarter by quarter."""
    order = {m: i for i, m in enumerate(measure_ids())}
    trend = suppressed(result.trend).sort(
        pl.col("measure_id").replace_strict(order, return_dtype=pl.Int32), "quarter_start")
    return section_from_frame(trend, key="trend", columns=TREND_COLUMNS,
                              title="Trend, last 8 quarters (overall)")


def to_csv(result: MeasuresResult) -> str:
    """The period's rows as CSV (a group that would start a formula gets a leading `'`)."""
    return neutralise(suppressed(result.rows).select(c.name for c in COLUMNS)).write_csv()


def _json_rows(section: Section) -> list[dict[str, object]]:
    """The section's rows (groups, never patients) with a shown denominator as a number;
    a suppressed one stays `suppressed (n < 11)`."""
    return [{**row, "denominator": row["denominator"] if row["denominator"] == SUPPRESSED
             else int(str(row["denominator"]))} for row in section.as_dicts()]


def to_json(result: MeasuresResult) -> str:
    """The period's rows, the trend and the catalog's words, as one JSON document."""
    request = result.request
    document = {
        "period": {"label": request.period.label, "first": request.period.first.isoformat(),
                   "last": request.period.last.isoformat()},
        "report_date": request.report_date.isoformat(), "ruleset": result.ruleset,
        "suppressed_below": MIN_CELL,
        "measures": [{"id": m.id, "title": m.title, "wording": m.wording,
                      "denominator": m.denominator, "numerator": m.numerator,
                      "exclusions": m.exclusions,
                      "unit": m.unit, "better": m.direction, "source": m.source,
                      "caveat": m.caveat or None}
                     for m in measures()],
        "rows": _json_rows(period_section(result)),
        "trend": _json_rows(trend_section(result)),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)
