"""The pandera model of a canonical exam after parsing (registry contract §1).

Built from the column table (`schemas.columns`): each column's dtype, whether a value is
required, its vocabulary and plausible range. Checks are polars expressions (no
element-wise checks) so that millions of rows validate in well under a second. pandera
names each failed column check (`less_than_or_equal_to(8.0)`, and the date-order checks
`not_after(exam_date)` / `not_before(birth_date)` that compare a column with another of
its row); a dataframe-level check's `error` is its reason code. `schemas.reasons` words
both; reasons name the column and the rule, never the offending value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from schemas.columns import COLUMNS, DRUG_HOLIDAY, SITES, Column


def _checks(column: Column) -> list[pa.Check]:
    checks = []
    if column.gt is not None:
        checks.append(pa.Check.gt(column.gt))
    if column.ge is not None:
        checks.append(pa.Check.ge(column.ge))
    if column.lt is not None:
        checks.append(pa.Check.lt(column.lt))
    if column.le is not None:
        checks.append(pa.Check.le(column.le))
    if column.allowed is not None and column.kind not in ("codes", "code"):  # by parsing
        checks.append(pa.Check.isin(list(column.allowed)))
    if column.nonempty:
        checks.append(pa.Check.str_length(min_value=1))
    if column.not_after is not None:
        checks.append(pa.Check(_not_after(column.not_after),
                               name=f"not_after({column.not_after})"))
    if column.not_before is not None:
        checks.append(pa.Check(_not_before(column.not_before),
                               name=f"not_before({column.not_before})"))
    return checks


def _not_after(other: str) -> Callable[[pa.PolarsData], pl.LazyFrame]:
    """A date that must not follow `other`'s date in the same row (equal is fine)."""
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        date, limit = pl.col(data.key), pl.col(other)
        return data.lazyframe.select(date.is_null() | limit.is_null() | (date <= limit))
    return check


def _not_before(other: str) -> Callable[[pa.PolarsData], pl.LazyFrame]:
    """A date that must not precede `other`'s date in the same row (equal is fine)."""
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        date, limit = pl.col(data.key), pl.col(other)
        return data.lazyframe.select(date.is_null() | limit.is_null() | (date >= limit))
    return check


def _exam_date_not_future(data: pa.PolarsData) -> pl.LazyFrame:
    today = dt.date.today()
    return data.lazyframe.select(
        pl.col("exam_date").is_null() | (pl.col("exam_date") <= pl.lit(today))
    )


def _birth_before_exam(data: pa.PolarsData) -> pl.LazyFrame:
    birth, exam = pl.col("birth_date"), pl.col("exam_date")
    return data.lazyframe.select(birth.is_null() | exam.is_null() | (birth < exam))


def _fracture_sites_agree(data: pa.PolarsData) -> pl.LazyFrame:
    said_no = pl.col("prior_fragility_fracture").eq_missing(False)
    return data.lazyframe.select(~(said_no & pl.col("prior_fracture_sites").is_not_null()))


def _drug_agrees(data: pa.PolarsData) -> pl.LazyFrame:
    """A drug named (not a drug holiday) with `on_treatment` no is contradictory."""
    drug = pl.col("treatment_drug")
    named = drug.is_not_null() & drug.ne_missing(DRUG_HOLIDAY)
    return data.lazyframe.select(~(named & pl.col("on_treatment").eq_missing(False)))


def _holiday_agrees(data: pa.PolarsData) -> pl.LazyFrame:
    """A drug holiday is not treatment: with `on_treatment` yes it is contradictory."""
    holiday = pl.col("treatment_drug").eq_missing(DRUG_HOLIDAY)
    return data.lazyframe.select(~(holiday & pl.col("on_treatment").eq_missing(True)))


def _fracture_date_agrees(data: pa.PolarsData) -> pl.LazyFrame:
    """A dated fragility fracture with `prior_fragility_fracture` no is contradictory."""
    said_no = pl.col("prior_fragility_fracture").eq_missing(False)
    return data.lazyframe.select(~(said_no & pl.col("last_fracture_date").is_not_null()))


def _has_a_scored_site(data: pa.PolarsData) -> pl.LazyFrame:
    scores = [f"{site}_{kind}" for site in SITES for kind in ("t", "z")]
    return data.lazyframe.select(pl.any_horizontal(pl.col(scores).is_not_null()))


#: One DXA exam as the canonical export describes it, typed. Bookkeeping columns
#: (`_row_number`, `_raw`, ...) ride along (not strict); parsing already typed every
#: column, so a wrong dtype is a bug (no coercion).
CanonicalExam = pa.DataFrameSchema(
    {
        c.name: pa.Column(c.dtype, checks=_checks(c), nullable=not c.required)
        for c in COLUMNS
    },
    checks=[
        pa.Check(_exam_date_not_future, error="EXAM_DATE_IN_FUTURE"),
        pa.Check(_birth_before_exam, error="BIRTH_AFTER_EXAM"),
        pa.Check(_has_a_scored_site, error="NO_SCORED_SITE"),
        pa.Check(_fracture_sites_agree, error="FRACTURE_SITES_CONTRADICT"),
        pa.Check(_drug_agrees, error="TREATMENT_DRUG_CONTRADICTS"),
        pa.Check(_holiday_agrees, error="DRUG_HOLIDAY_CONTRADICTS"),
        pa.Check(_fracture_date_agrees, error="FRACTURE_DATE_CONTRADICTS"),
    ],
    strict=False,
    coerce=False,
    name="CanonicalExam",
)
