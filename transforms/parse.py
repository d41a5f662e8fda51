"""Turn a canonical exam file's cells (all text) into typed columns.

Every cell is parsed with vectorized polars string expressions. A cell whose text does not
parse becomes null *and* leaves a message in the row's `_parse_errors` list, so that the
row is quarantined with the reason instead of being loaded with a silently missing value.
Messages name the column, never the cell's value (values may identify a patient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from transforms.columns import (
    CANONICAL_COLUMNS,
    FALSE_WORDS,
    PARSE_ERRORS,
    ROW_NUMBER,
    TRUE_WORDS,
    Kind,
)

#: Text columns whose vocabulary is normalised to one case before validation.
_UPPER = ("sex",)
_LOWER = ("menopausal_status", "hip_side")


@dataclass(frozen=True)
class ParseOptions:
    """How the cells of one file are written.

    The canonical contract is ISO dates and `.` decimals; vendor and messy inputs set
    the other options explicitly (dates are never guessed).
    """

    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    #: Cell texts that mean "not recorded" besides the empty cell (compared after strip,
    #: case-insensitive).
    null_tokens: tuple[str, ...] = field(default_factory=tuple)


def _clean_text(name: str, options: ParseOptions) -> pl.Expr:
    """Stripped text, with blanks and null tokens as null."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    blank = text.is_null() | (text == "")
    if options.null_tokens:
        blank = blank | text.str.to_lowercase().is_in(
            [t.lower() for t in options.null_tokens]
        )
    return pl.when(blank).then(None).otherwise(text)


def _number_text(text: pl.Expr, options: ParseOptions) -> pl.Expr:
    """Normalise a numeric cell's text: Unicode minus signs, optional decimal comma."""
    text = text.str.replace_all("\u2212", "-", literal=True).str.replace_all(
        "\u2013", "-", literal=True
    )
    if options.decimal_comma:
        text = text.str.replace_all(".", "", literal=True).str.replace_all(
            ",", ".", literal=True
        )
    return text


def _parse(name: str, kind: Kind, options: ParseOptions) -> tuple[pl.Expr, pl.Expr]:
    """Return (typed value, error message or null) expressions for one column."""
    text = _clean_text(name, options)
    if kind == "text":
        value = text
        if name in _UPPER:
            value = value.str.to_uppercase()
        elif name in _LOWER:
            value = value.str.to_lowercase()
        return value.alias(name), pl.lit(None, dtype=pl.String)
    if kind == "number":
        number = _number_text(text, options).cast(pl.Float64, strict=False)
        value = pl.when(number.is_finite()).then(number).otherwise(None)
        problem = "is not a number"
    elif kind == "integer":
        number = _number_text(text, options).cast(pl.Float64, strict=False)
        whole = number.is_finite() & (number == number.floor())
        value = pl.when(whole).then(number).otherwise(None).cast(pl.Int64)
        problem = "is not a whole number"
    elif kind == "bool":
        lowered = text.str.to_lowercase()
        value = (
            pl.when(lowered.is_in(list(TRUE_WORDS)))
            .then(True)
            .when(lowered.is_in(list(FALSE_WORDS)))
            .then(False)
            .otherwise(None)
        )
        problem = "is not a boolean (true/false, yes/no, y/n, 1/0)"
    else:  # date
        value = text.str.to_date(options.date_format, strict=False)
        problem = f"is not a real date in the form {options.date_format}"
    error = (
        pl.when(text.is_not_null() & value.is_null())
        .then(pl.lit(f"{name}: {problem}"))
        .otherwise(None)
    )
    return value.alias(name), error


def parse_cells(raw: pl.DataFrame, options: ParseOptions | None = None) -> pl.DataFrame:
    """Parse a frame of text cells into the typed canonical exam frame.

    `raw` holds the canonical columns that the file had (lower-case names, all text) and
    `_row_number`. Columns the file lacks come out as typed nulls. The result has every
    canonical column, `_row_number` and `_parse_errors` (list of messages, empty if clean).
    """
    options = options or ParseOptions()
    values: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    for name, kind in CANONICAL_COLUMNS.items():
        if name in raw.columns:
            value, error = _parse(name, kind, options)
            values.append(value)
            errors.append(error)
        else:
            values.append(pl.lit(None, dtype=polars_dtype(kind)).alias(name))
    parse_errors = (
        pl.concat_list(errors).list.drop_nulls()
        if errors
        else pl.lit([], dtype=pl.List(pl.String))
    )
    return raw.select(pl.col(ROW_NUMBER), *values, parse_errors.alias(PARSE_ERRORS))


def polars_dtype(kind: Kind) -> pl.DataType:
    """The polars dtype of a canonical column kind."""
    return {
        "text": pl.String(),
        "number": pl.Float64(),
        "integer": pl.Int64(),
        "bool": pl.Boolean(),
        "date": pl.Date(),
    }[kind]


def derive_age_and_bmi(exams: pl.DataFrame) -> pl.DataFrame:
    """Fill `age_years` from the birth date and `bmi` from height and weight where blank.

    Age is completed years at the exam date; BMI is weight / height(m)^2. Both are derived
    before validation so that the plausibility checks also cover derived values.
    """
    birth, exam = pl.col("birth_date"), pl.col("exam_date")
    before_birthday = (exam.dt.month() * 100 + exam.dt.day()) < (
        birth.dt.month() * 100 + birth.dt.day()
    )
    derived_age = (exam.dt.year() - birth.dt.year() - before_birthday.cast(pl.Int32)).cast(
        pl.Float64
    )
    height_m = pl.col("height_cm") / 100.0
    derived_bmi = pl.col("weight_kg") / (height_m * height_m)
    return exams.with_columns(
        pl.coalesce(pl.col("age_years"), derived_age).alias("age_years"),
        pl.coalesce(pl.col("bmi"), derived_bmi.round(1)).alias("bmi"),
    )
