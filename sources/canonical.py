"""The canonical exam CSV of the registry contract (§1), with the tolerances of issue 5.

Besides the strict contract (UTF-8, comma, ISO dates, `.` decimals) the reader accepts
the "messy" spellings registries send in practice, each detected from the file itself or
given by the operator, never guessed silently:

* encoding: UTF-8 (BOM accepted); bytes that are not UTF-8 are decoded as Windows-1252
  and a note says so; bytes undefined in Windows-1252 too fail the file (Latin-1 would
  turn them into control characters);
* delimiter: `,` `;` or TAB, whichever the header line uses most;
* decimal commas (`0,812`): used when the numeric cells of the file write decimals with a
  comma and none with a point (with a `,` delimiter such cells must be quoted);
* blanks spelled `NA`, `N/A`, `-`, `NULL`, `#N/A` (a lone `-` is blank, `-2.5` a number);
* the Unicode minus sign (U+2212) in scores (handled by `transforms.parse`);
* trailing empty columns (blank header names) are dropped; unknown columns are set aside
  in `extra_columns`;
* dates `DD/MM/YYYY` or `MM/DD/YYYY` only with `ReadOptions.date_format` `DMY` / `MDY`;
  without it, a non-ISO date is a quarantine reason for its row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sources.base import CANONICAL_CSV, ReadOptions, SourceFile
from transforms.columns import CANONICAL_COLUMNS
from transforms.errors import FileProblem
from transforms.parse import ParseOptions
from transforms.read_csv import read_messy_csv, sha256_of

#: Cell texts that mean "not recorded" (compared case-insensitively after strip).
NULL_TOKENS: tuple[str, ...] = ("NA", "N/A", "-", "NULL", "#N/A")

#: `ReadOptions.date_format` -> strptime format of the cells.
DATE_FORMATS = {None: "%Y-%m-%d", "DMY": "%d/%m/%Y", "MDY": "%m/%d/%Y"}

_NUMERIC = [name for name, kind in CANONICAL_COLUMNS.items() if kind in ("number", "integer")]
_COMMA_DECIMAL = r"^[+\-\u2212]?\d*,\d+$"
_POINT_DECIMAL = r"^[+\-\u2212]?\d*\.\d+$"


def sniff(path: Path) -> str | None:
    """None when `path` looks like a canonical CSV, else why it does not."""
    if not path.is_file():
        return "not a file"
    if path.suffix.lower() not in (".csv", ".txt", ".tsv"):
        return f"file name does not end in .csv ({path.suffix or 'no suffix'})"
    return None


def uses_decimal_comma(cells: pl.DataFrame) -> bool:
    """True when the numeric cells write decimals with a comma and never with a point."""
    numeric = [c for c in _NUMERIC if c in cells.columns]
    if not numeric or cells.height == 0:
        return False
    counts = cells.select(
        comma=pl.sum_horizontal(
            pl.col(c).str.strip_chars().str.contains(_COMMA_DECIMAL).fill_null(False).sum()
            for c in numeric
        ),
        point=pl.sum_horizontal(
            pl.col(c).str.strip_chars().str.contains(_POINT_DECIMAL).fill_null(False).sum()
            for c in numeric
        ),
    ).row(0)
    return counts[0] > 0 and counts[1] == 0


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read a canonical (possibly messy) exam CSV into text cells."""
    options = options or ReadOptions()
    if options.date_format not in DATE_FORMATS:
        raise FileProblem("date format option must be DMY or MDY")
    messy = read_messy_csv(path)
    cells = messy.table.cells
    notes = list(messy.notes)
    decimal_comma = uses_decimal_comma(cells)
    if decimal_comma:
        notes.append("decimal commas")
    if options.date_format:
        notes.append(f"dates read as {options.date_format}")
    return SourceFile(
        path=path,
        sha256=sha256_of(messy.data),
        source_format=CANONICAL_CSV,
        vendor=None,
        cells=cells,
        parse_options=ParseOptions(
            date_format=DATE_FORMATS[options.date_format],
            decimal_comma=decimal_comma,
            null_tokens=NULL_TOKENS,
        ),
        extra_columns=messy.table.extra_columns,
        notes=notes,
    )
