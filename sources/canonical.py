"""The canonical exam CSV of the registry contract (§1), with the messy-CSV tolerances.

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

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas.columns import CANONICAL_COLUMNS
from schemas.errors import FileProblem
from sources.base import CANONICAL_CSV, ReadOptions, SourceFile
from sources.read_csv import (
    CsvLayout,
    RawTable,
    layout_of,
    read_batch,
    read_column,
    sha256_of,
)
from transforms.columns import ROW_NUMBER
from transforms.parse import DATE_FORMATS, ParseOptions, clean_text
from transforms.quarantine import EXAM_KEY, duplicate_verdicts, shared_exam_ids

#: Cell texts that mean "not recorded" (compared case-insensitively after strip).
NULL_TOKENS: tuple[str, ...] = ("NA", "N/A", "-", "NULL", "#N/A")

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


def decimal_counts(cells: pl.DataFrame) -> tuple[int, int]:
    """(cells with a decimal comma, cells with a decimal point) among the numeric cells."""
    numeric = [c for c in _NUMERIC if c in cells.columns]
    if not numeric or cells.height == 0:
        return 0, 0
    comma, point = cells.select(
        comma=pl.sum_horizontal(
            pl.col(c).str.strip_chars().str.contains(_COMMA_DECIMAL).fill_null(False).sum()
            for c in numeric
        ),
        point=pl.sum_horizontal(
            pl.col(c).str.strip_chars().str.contains(_POINT_DECIMAL).fill_null(False).sum()
            for c in numeric
        ),
    ).row(0)
    return int(comma), int(point)


def uses_decimal_comma(cells: pl.DataFrame) -> bool:
    """True when the numeric cells write decimals with a comma and never with a point."""
    comma, point = decimal_counts(cells)
    return comma > 0 and point == 0


def _decimal_comma_possible(layout: CsvLayout) -> bool:
    """Whether a decimal comma can occur at all, from one look at the bytes.

    With `,` as delimiter a comma inside a number needs quotes; with `;` or TAB the file
    must contain a comma somewhere. The usual export has neither, and skips the scan.
    """
    if layout.delimiter == ",":
        return layout.has_quotes
    return b"," in layout.data


@dataclass
class LargeCsv:
    """A canonical CSV too large to hold parsed at once: its rows come batch by batch.

    Prepared once (whole-file facts: duplicate verdicts, decimal commas), then read again
    by the load stage, one batch of about `ReadOptions.batch_bytes` at a time, so memory
    stays bounded whatever the file's size. Only the path travels between stages.
    """

    path: Path
    sha256: str
    batch_bytes: int
    verdicts: pl.DataFrame

    def batches(self) -> Iterator[RawTable]:
        """The file's cells, one batch at a time, numbered as rows of the whole file."""
        data = self.path.read_bytes()
        if sha256_of(data) != self.sha256:
            raise FileProblem("the file changed while it was being read; run it again")
        layout = layout_of(data, self.batch_bytes)
        del data
        offset = 0
        for batch in range(len(layout.batches)):
            table = read_batch(layout, batch, offset)
            table.position = layout.position(batch)
            offset += table.rows_read + table.blank_rows
            yield table


def _exam_keys(cells: pl.DataFrame) -> pl.Series:
    """The exam id as `transforms.parse` will read it (stripped, null tokens as null)."""
    return cells.select(clean_text("exam_id", ParseOptions(null_tokens=NULL_TOKENS))).to_series()


def _file_facts(layout: CsvLayout) -> tuple[pl.DataFrame, bool]:
    """Duplicate verdicts and decimal-comma use over every batch of a large file.

    A first pass reads only the exam ids (cheap); rows whose id occurs more than once are
    then read whole, so that exact copies and conflicts are judged on the whole file,
    as for a small one. Decimal commas, when the bytes allow them at all, are counted
    in that second pass, which otherwise stops after the last batch holding a candidate.
    """
    key = pl.concat(
        _exam_keys(read_column(layout, batch, "exam_id").to_frame())
        for batch in range(len(layout.batches))
    )
    wanted = pl.int_range(1, key.len() + 1, dtype=pl.Int64, eager=True).filter(
        shared_exam_ids(key)
    )
    check_decimals = _decimal_comma_possible(layout)
    last_wanted = int(wanted.max()) if wanted.len() else 0  # type: ignore[arg-type]
    comma = point = offset = 0
    candidates = [pl.DataFrame()]
    for batch in range(len(layout.batches)):
        if not check_decimals and offset >= last_wanted:
            break
        table = read_batch(layout, batch, offset)
        offset += table.rows_read + table.blank_rows
        if check_decimals:
            c, p = decimal_counts(table.cells)
            comma, point = comma + c, point + p
        rows = table.cells.filter(pl.col(ROW_NUMBER).is_in(wanted.implode()))
        if rows.height:
            candidates.append(rows.with_columns(_exam_keys(rows).alias(EXAM_KEY)))
    found = pl.concat(candidates, how="diagonal")
    return duplicate_verdicts(found), comma > 0 and point == 0


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read a canonical (possibly messy) exam CSV into text cells.

    A file within one batch (`ReadOptions.batch_bytes`) is parsed here; a larger one is
    checked whole (encoding, header, duplicates) and handed on as a `LargeCsv`.
    """
    options = options or ReadOptions()
    if options.date_format not in DATE_FORMATS:
        raise FileProblem("date format option must be DMY or MDY")
    data = path.read_bytes()
    # hashlib lets go of the GIL: the fingerprint is worked out beside the parsing.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(sha256_of, data)
        layout = layout_of(data, options.batch_bytes)
        del data  # the layout holds the (decoded) bytes from here on
        table = read_batch(layout, 0, 0) if len(layout.batches) == 1 else None
        sha256 = hashing.result()
    cells = None
    large = None
    blank_rows = 0
    if table is not None:
        cells, blank_rows = table.cells, table.blank_rows
        decimal_comma = _decimal_comma_possible(layout) and uses_decimal_comma(cells)
        notes = list(layout.notes)  # reading the rows may have added a note
    else:
        verdicts, decimal_comma = _file_facts(layout)
        large = LargeCsv(path, sha256, options.batch_bytes, verdicts)
        notes = [*layout.notes, f"read in {len(layout.batches)} batches"]
    if decimal_comma:
        notes.append("decimal commas")
    if options.date_format:
        notes.append(f"dates read as {options.date_format}")
    return SourceFile(
        path=path,
        sha256=sha256,
        source_format=CANONICAL_CSV,
        vendor=None,
        cells=cells,
        parse_options=ParseOptions(
            date_format=DATE_FORMATS[options.date_format],
            decimal_comma=decimal_comma,
            null_tokens=NULL_TOKENS,
        ),
        extra_columns=layout.extra_columns,
        blank_rows=blank_rows,
        notes=notes,
        large=large,
    )
