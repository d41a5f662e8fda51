"""Values as people read them on the quality page: dates in words, codes as labels.

The report model keeps values typed (dates, codes) for every renderer; the table, CSV and
JSON renderers write them as machines and analysts expect (ISO dates, codes). The page a
clinician-manager reads writes `6 Dec 2026` instead of `2026-12-06`, a label instead of a
code (`labels`), and `YYYY-MM-DD` where a stored message quotes a strftime pattern
(`%Y-%m-%d`, as date reasons stored by older versions do).
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from pipelines.readers.reporting.labels import label
from pipelines.readers.reporting.model import Column, Value
from pipelines.readers.reporting.render_text import display

#: English month abbreviations, fixed: the page reads the same whatever the locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: strftime directives as people write a date's form.
_DIRECTIVES = {"Y": "YYYY", "y": "YY", "m": "MM", "d": "DD", "e": "D", "b": "Mon",
               "B": "Month", "H": "hh", "M": "mm", "S": "ss", "j": "DDD"}
#: A strftime pattern inside a text: directives joined by a few separators.
_PATTERN = re.compile(r"%[A-Za-z](?:[^\s%]{0,3}%[A-Za-z])*")


def day(value: dt.date) -> str:
    """`6 Dec 2026`."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def moment(value: dt.datetime) -> str:
    """`6 Dec 2026, 08:57` (to the minute: the page is read, not joined on)."""
    return f"{day(value)}, {value:%H:%M}"


def moment_expr(column: str) -> pl.Expr:
    """`moment` of every value of a datetime column, as one polars expression."""
    when = pl.col(column)
    return pl.format("{} {} {}, {}", when.dt.day(),
                     when.dt.month().replace_strict(range(1, 13), MONTHS,
                                                    return_dtype=pl.String),
                     when.dt.year(), when.dt.strftime("%H:%M"))


def date_patterns(text: str) -> str:
    """Every strftime pattern in `text` in people's words (`%d/%m/%Y` -> `DD/MM/YYYY`)."""
    return _PATTERN.sub(
        lambda found: re.sub(r"%([A-Za-z])",
                             lambda d: _DIRECTIVES.get(d.group(1), d.group(1)),
                             found.group(0)),
        text)


def cell(column: Column, value: Value) -> str:
    """One value of a report column as the page shows it."""
    if value is None:
        return ""
    if column.vocabulary is not None and isinstance(value, str):
        return label(column.vocabulary, value) or ""
    if isinstance(value, dt.datetime):
        return moment(value)
    if isinstance(value, dt.date):
        return day(value)
    if isinstance(value, str):
        return date_patterns(value)
    return display(value)


def sentence_case(text: str) -> str:
    """`latest run: quarantine reasons` -> `Latest run: quarantine reasons`."""
    return text[:1].upper() + text[1:]
