"""Small vectorised helpers the vendor adapters share (flags, dates, numbers, units).

Adapters hand text cells to the one validation path; these helpers only normalise the
vendor spellings that the canonical parser does not know (vendor booleans, datetime
stamps, decimal commas, BMD in mg/cm2) into canonical text.
"""

from __future__ import annotations

import polars as pl

#: Vendor spellings of true / false (compared upper-case after strip).
TRUE_FLAGS = ("1", "TRUE", "T", "Y", "YES", "-1")
FALSE_FLAGS = ("0", "FALSE", "F", "N", "NO")

#: strptime formats tried for vendor dates given as ISO text (a time part is ignored).
_ISO_DATE = "%Y-%m-%d"
_SLASH = {"DMY": "%d/%m/%Y", "MDY": "%m/%d/%Y"}


def flag(expr: pl.Expr) -> pl.Expr:
    """A vendor boolean cell as Boolean (null when blank or not a known spelling)."""
    text = expr.cast(pl.String).str.strip_chars().str.to_uppercase()
    return (
        pl.when(text.is_in(list(TRUE_FLAGS)))
        .then(True)
        .when(text.is_in(list(FALSE_FLAGS)))
        .then(False)
        .otherwise(None)
    )


def vendor_date(expr: pl.Expr, date_format: str | None = None) -> pl.Expr:
    """A vendor date or datetime cell as Date: ISO `YYYY-MM-DD[ T]HH:MM[:SS]`, compact
    `YYYYMMDD` (DICOM DA), or with the operator's `DMY` / `MDY` option a slash date."""
    text = expr.cast(pl.String).str.strip_chars()
    head = text.str.extract(r"^(\d{4}-\d{2}-\d{2})", 1)
    compact = text.str.extract(r"^(\d{8})$", 1)
    options = [
        head.str.to_date(_ISO_DATE, strict=False),
        compact.str.to_date("%Y%m%d", strict=False),
    ]
    if date_format in _SLASH:
        slash = text.str.extract(r"^(\d{1,2}/\d{1,2}/\d{4})", 1)
        options.append(slash.str.to_date(_SLASH[date_format], strict=False))
    return pl.coalesce(options)


def vendor_datetime(expr: pl.Expr) -> pl.Expr:
    """An ISO date or datetime cell as Datetime (for ordering analyses), else null."""
    text = expr.cast(pl.String).str.strip_chars().str.replace("T", " ", literal=True)
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False),
        text.str.to_datetime("%Y-%m-%d %H:%M", strict=False),
        text.str.slice(0, 10).str.to_date(_ISO_DATE, strict=False).cast(pl.Datetime("us")),
    )


def number_text(expr: pl.Expr) -> pl.Expr:
    """Numeric text with a decimal comma turned into a point (`1,023` -> `1.023`)."""
    text = expr.cast(pl.String).str.strip_chars()
    return (
        pl.when(text.str.contains(r"^[+\-\u2212]?\d*,\d+$"))
        .then(text.str.replace(",", ".", literal=True))
        .otherwise(text)
    )


def number(expr: pl.Expr) -> pl.Expr:
    """Numeric text (point or comma decimal, Unicode minus) as Float64, else null."""
    return (
        number_text(expr)
        .str.replace("\u2212", "-", literal=True)
        .cast(pl.Float64, strict=False)
    )


def bmd_g_cm2_text(expr: pl.Expr) -> pl.Expr:
    """BMD text in g/cm2: a value above 10 is in mg/cm2 and is divided by 1000.

    Text that is not a number is passed through, so validation names the column.
    """
    text = number_text(expr)
    value = text.cast(pl.Float64, strict=False)
    return (
        pl.when(value > 10)
        .then((value / 1000).round(6).cast(pl.String))
        .otherwise(text)
    )


def iso_text(date_expr: pl.Expr) -> pl.Expr:
    """A Date as ISO text."""
    return date_expr.dt.to_string("%Y-%m-%d")
