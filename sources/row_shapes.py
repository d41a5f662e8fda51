"""Row shapes of a CSV batch: rows with too few fields, and where a malformed file breaks.

polars reads a row with too few fields by padding it with empty cells, and fails on a row
with too many or on an unterminated quote without saying where. Here the rows are
counted from the text itself: a short row gets a TRUNCATED_ROW reason (its cells are
not silently loaded as "not recorded"), and a file polars cannot read gets the line
that breaks it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import polars as pl

from schemas.reasons import REASON_STRUCT, reason_expr
from transforms.columns import ROW_PROBLEM


@dataclass(frozen=True)
class RowShape:
    """What every row of a file should look like: its delimiter, the header's width (the
    fields a row holds), and whether any cell is quoted (without quotes, a row is exactly
    one line)."""

    delimiter: str
    width: int
    has_quotes: bool


def first_ragged_line(text: str, shape: RowShape, first_line: int) -> str:
    """Locate the first line whose field count differs from the header's (error path).

    `text` starts with the header line; `first_line` is the file line number of the
    chunk's first data line minus one, so reported line numbers are the file's. An
    unterminated quote is named at the line where it opened: a reader that follows the
    quote would name a later line, with a field count that says nothing.
    """
    opened = _unterminated_quote(text)
    if opened is not None:
        return (f"line {first_line + opened}: unterminated quote (a quoted cell opened on"
                " this line is never closed)")
    reader = csv.reader(io.StringIO(text), delimiter=shape.delimiter)
    try:
        next(reader)
        for fields in reader:
            if fields and len(fields) != shape.width:
                return (
                    f"line {first_line + reader.line_num} has {len(fields)} fields, "
                    f"the header has {shape.width}"
                )
    except csv.Error as exc:
        return f"line {first_line + reader.line_num}: {exc}"
    return "unbalanced quotes or malformed rows"


def _unterminated_quote(text: str) -> int | None:
    """The line (1 = the text's first) where a quote opens that never closes, or None.

    Quotes balance at the end of every complete row; the opening line is the one after
    the last line end at which they balanced.
    """
    quotes = pl.Series(text.split("\n")).str.count_matches('"', literal=True)
    balanced = quotes.cum_sum() % 2 == 0
    if balanced.tail(1).all():
        return None
    closed = balanced.arg_true()
    return 1 if closed.len() == 0 else int(closed[-1]) + 2


def _field_counts(chunk: bytes, delimiter: str, has_quotes: bool) -> pl.Series | None:
    """Fields per data row of `chunk` (header first), or None when rows cannot be told.

    Delimiters inside quoted cells are not counted. A quoted cell may hold line breaks:
    a row then spans lines, and it ends at the first line end after which the quotes
    seen so far are balanced (`""` inside a quoted cell counts twice, so it stays
    balanced). None when the quotes never balance (the caller notes it).
    """
    lines = pl.Series([chunk.decode("utf-8")]).str.split("\n").explode().slice(1)
    if chunk.endswith(b"\n"):
        lines = lines.head(lines.len() - 1)
    if has_quotes:
        quotes = lines.str.count_matches('"', literal=True)
        if (quotes % 2 == 1).any():
            ends = quotes.cum_sum() % 2 == 0
            if not ends.tail(1).all():
                return None
            row = ends.cast(pl.Int64).cum_sum().shift(1, fill_value=0)
            lines = (
                pl.DataFrame({"line": lines, "row": row})
                .group_by("row", maintain_order=True)
                .agg(pl.col("line").str.join("\n"))
                .get_column("line")
            )
        lines = lines.str.replace_all(r'"[^"]*"', "")
    return lines.str.count_matches(delimiter, literal=True) + 1


def row_shape_problems(
    rows: int, chunk: bytes, shape: RowShape, delimiters: int | None
) -> tuple[pl.Series, list[str]]:
    """Why each row is malformed (null when it is not): today, rows with too few fields.

    polars pads a short row with empty cells, which would load a truncated exam with
    silently missing values; the counts of delimiters tell such rows apart. The common
    case costs one byte count (`delimiters`, None when the file has quotes): exactly
    (width - 1) delimiters per line.
    """
    width = shape.width
    none = pl.repeat(None, rows, dtype=REASON_STRUCT, eager=True).alias(ROW_PROBLEM)
    if delimiters == (rows + 1) * (width - 1):
        return none, []
    counts = _field_counts(chunk, shape.delimiter, shape.has_quotes)
    if counts is None or counts.len() != rows:
        return none, ["row lengths not checked (unbalanced quotes)"]
    short = pl.select(
        pl.when(counts < width).then(
            reason_expr("TRUNCATED_ROW", "row", fields=counts, width=width)
        )
    ).to_series()
    return short.alias(ROW_PROBLEM), []
