"""The report model: sections of typed rows that every renderer shares.

`dxa report`, the run summary, the Prefect artifact and the HTML page all start from one
`Report`, so a number can never read differently in two places. A value keeps its type
(counts are ints, percentages floats, dates dates) until a renderer writes it: JSON gets
numbers as numbers, a table right-aligns them, CSV writes them plainly. Sections carry a
stable machine key (`key`) beside their human title, and their rows come in the order the
query fixed (clinical or time order), which the renderers never change.

Counts and codes only: a section never holds a patient or exam identifier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import polars as pl


class Kind(StrEnum):
    """The type of a column's values, as renderers and the JSON schema see it."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOL = "bool"


#: Python types each kind accepts (None is always allowed: "not recorded").
_PYTHON_TYPES: dict[Kind, tuple[type, ...]] = {
    Kind.TEXT: (str,),
    Kind.INT: (int,),
    Kind.FLOAT: (float, int),
    Kind.DATE: (dt.date,),
    Kind.TIMESTAMP: (dt.datetime,),
    Kind.BOOL: (bool,),
}


@dataclass(frozen=True)
class Column:
    """One column of a section: its JSON key, its type and the header people read.

    `vocabulary`: the codes a text column holds (`treatment`, `flag`, ...), so the page
    shows their labels (`pipelines.readers.reporting.labels`); tables, CSV and JSON keep
    the codes.
    """

    name: str
    kind: Kind
    label: str | None = None
    vocabulary: str | None = None

    @property
    def header(self) -> str:
        return self.label or self.name.replace("_", " ")

    @property
    def numeric(self) -> bool:
        return self.kind in (Kind.INT, Kind.FLOAT)


Value = str | int | float | bool | dt.date | dt.datetime | None


@dataclass(frozen=True)
class Section:
    """A titled table of typed rows.

    `record=True` marks a section of one row read item by item (the latest run, the
    registry's totals): a table shows it as item/value lines, JSON keeps it one object.
    """

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...] = ()
    note: str | None = None
    record: bool = False

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"section {self.key}: a row has {len(row)} values for "
                                 f"{len(self.columns)} columns")
            for column, value in zip(self.columns, row, strict=True):
                _check_type(self.key, column, value)

    def as_dicts(self) -> list[dict[str, Value]]:
        names = [c.name for c in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Value]:
        index = [c.name for c in self.columns].index(name)
        return [row[index] for row in self.rows]


def _check_type(section: str, column: Column, value: Value) -> None:
    """A value of the wrong type is a bug in the query, caught before anything renders."""
    if value is None:
        return
    allowed = _PYTHON_TYPES[column.kind]
    wrong = not isinstance(value, allowed)
    wrong |= column.kind in (Kind.INT, Kind.FLOAT) and isinstance(value, bool)
    wrong |= column.kind is Kind.DATE and isinstance(value, dt.datetime)
    if wrong:
        raise TypeError(f"section {section}, column {column.name}: expected {column.kind}, "
                        f"got {type(value).__name__}")


@dataclass(frozen=True)
class Report:
    """A titled list of sections, dated: what `dxa report` and the run summary show."""

    kind: str  # "registry" (dxa report) or "run" (the run summary)
    title: str
    as_of: dt.date
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)


def section_from_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict | list | None,
    *,
    key: str,
    title: str,
    columns: Sequence[Column],
    note: str | None = None,
    record: bool = False,
) -> Section:
    """A section whose rows are a query's result, in the query's order.

    DuckDB returns ints, floats, dates and timestamps as such; Decimals (from sums or
    averages over DECIMAL columns) are turned into floats here, once.
    """
    rows = con.execute(sql, params or {}).fetchall()
    return Section(key=key, title=title, columns=tuple(columns),
                   rows=tuple(tuple(_plain(v) for v in row) for row in rows),
                   note=note, record=record)


def section_from_frame(
    frame: pl.DataFrame,
    *,
    key: str,
    title: str,
    columns: Sequence[Column],
    note: str | None = None,
) -> Section:
    """A section whose rows are a frame's columns of the same names, in the frame's order
    (polars hands back ints, floats, dates and timestamps as such)."""
    rows = frame.select([c.name for c in columns]).rows()
    return Section(key=key, title=title, columns=tuple(columns), rows=tuple(rows), note=note)


def _plain(value: object) -> Value:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    return value  # type: ignore[return-value]


def counts(name: str, label: str | None = None) -> Column:
    """A count column (an int)."""
    return Column(name, Kind.INT, label)


def text(name: str, label: str | None = None) -> Column:
    return Column(name, Kind.TEXT, label)


def coded(name: str, vocabulary: str, label: str | None = None) -> Column:
    """A text column of codes from `vocabulary` (the page labels them)."""
    return Column(name, Kind.TEXT, label, vocabulary)


def records(section: Section) -> Iterable[tuple[str, Value]]:
    """A record section's (header, value) pairs, for item/value layouts."""
    for row in section.rows[:1]:
        yield from zip((c.header for c in section.columns), row, strict=True)
