"""Read an exam CSV into text cells, keeping every row accountable to the file.

All cells are read as text (no inference), so that nothing is coerced silently: typing
happens in `transforms.parse`, where a bad cell becomes a quarantine reason. Each row keeps
its 1-based data row number; the raw row as read (JSON) is built only for the rows that
need it (quarantine), because encoding a million rows nobody will look at costs more than
parsing them.

A file is read in two steps so that a large one can be processed in batches of rows with
bounded memory: `layout_of` looks at the whole file once (encoding, delimiter, header,
line-aligned batch boundaries), then `read_batch` turns one byte range into cells.
Decoding and the delimiter are `sources.csv_text`'s job, the checks of each row's shape
(truncated rows, where a malformed file breaks) `sources.row_shapes`'.
"""

from __future__ import annotations

import csv
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from schemas.columns import AGE_HEADER, CANONICAL_COLUMNS, REQUIRED_HEADER
from schemas.errors import FileProblem
from sources.csv_text import DELIMITER_NAMES, detect_delimiter, to_utf8
from sources.row_shapes import RowShape, first_ragged_line, row_shape_problems
from transforms.columns import ROW_NUMBER

#: Batch size of large files, in bytes of CSV text (about 1M canonical exams, ~4 GB of
#: working memory); a file up to this size is read and validated in one piece.
DEFAULT_BATCH_BYTES = 200 * 2**20


@dataclass(frozen=True)
class BatchPosition:
    """Where one batch sits in its file: its number and its bytes, for progress bars.

    Offsets count the file's text as read (UTF-8, without a BOM), header included:
    `bytes_end` of the last batch is `bytes_total`.
    """

    number: int  # 1 = the first batch
    batches: int
    bytes_start: int
    bytes_end: int
    bytes_total: int


@dataclass
class RawTable:
    """The text cells of one file (or batch) plus what was learned while reading it.

    `cells` holds `_row_number`, the canonical columns present (text), the file's unknown
    columns under their header names, and `_row_problem` (why a row is malformed, a
    `schemas.reasons` reason, else null). Blank rows (no cell holds anything) are not
    data: they are counted, not kept. `position`: a large file's batch, where it sits.
    """

    cells: pl.DataFrame
    extra_columns: list[str] = field(default_factory=list)
    blank_rows: int = 0
    position: BatchPosition | None = None

    @property
    def rows_read(self) -> int:
        return self.cells.height


def sha256_of(data: bytes) -> str:
    """Content hash that identifies a file across runs (re-loads are skipped by it)."""
    return hashlib.sha256(data).hexdigest()


def normalise_header(name: str) -> str:
    """Header names are case-insensitive; surrounding blanks and a BOM are ignored."""
    return name.replace("\ufeff", "").strip().lower()


@dataclass
class CsvLayout:
    """A CSV file looked at once, before any row is parsed.

    `data` is UTF-8 without BOM; `batches` are line-aligned byte ranges of the data rows
    (never splitting a quoted cell); `header` is the normalised names in file order.
    """

    data: bytes
    delimiter: str
    header: list[str]
    header_end: int
    batches: list[tuple[int, int]]
    has_quotes: bool
    notes: list[str] = field(default_factory=list)

    def chunk(self, batch: int) -> bytes:
        """The header line and the rows of one batch: a CSV text of its own."""
        start, end = self.batches[batch]
        if start == self.header_end:
            return self.data[:end]
        return self.data[: self.header_end] + self.data[start:end]

    def position(self, batch: int) -> BatchPosition:
        """Batch `batch` (0-based) as a progress bar counts it: bytes read up to its end."""
        start, end = self.batches[batch]
        return BatchPosition(batch + 1, len(self.batches), start, end, self.batches[-1][1])

    @property
    def row_shape(self) -> RowShape:
        """What every data row should look like (what the row-shape checks compare with)."""
        return RowShape(self.delimiter, len(self.header), self.has_quotes)

    @property
    def extra_columns(self) -> list[str]:
        """Unknown columns (kept aside and reported once); blank names are dropped."""
        return [h for h in self.header if h and h not in CANONICAL_COLUMNS]


def _header_line_end(data: bytes) -> int:
    """Offset just past the header line (the header never spans lines)."""
    end = data.find(b"\n")
    return len(data) if end < 0 else end + 1


def _parse_header(line: bytes, delimiter: str) -> list[str]:
    """Normalised header names; a name given twice fails the file."""
    try:
        raw_names = next(csv.reader(io.StringIO(line.decode("utf-8")), delimiter=delimiter))
    except (csv.Error, StopIteration):
        raise FileProblem("not a well-formed CSV: the header line cannot be read") from None
    headers = [normalise_header(n) for n in raw_names]
    named = [h for h in headers if h]
    duplicates = sorted({h for h in named if named.count(h) > 1})
    if duplicates:
        raise FileProblem(f"header names a column twice: {', '.join(duplicates)}")
    missing = [c for c in REQUIRED_HEADER if c not in headers]
    if not any(c in headers for c in AGE_HEADER):
        missing.append(" or ".join(AGE_HEADER))
    if missing:
        raise FileProblem(f"required column missing: {', '.join(missing)}")
    return headers


def _batch_ranges(
    data: bytes, start: int, end: int, batch_bytes: int, quotes: bool
) -> list[tuple[int, int]]:
    """Split data rows into line-aligned byte ranges of about `batch_bytes` each.

    A boundary inside a quoted cell (an odd number of quote characters before it) moves
    to the next line end, so that no row is ever cut in two.
    """
    ranges: list[tuple[int, int]] = []
    while start < end:
        cut = min(start + batch_bytes, end)
        if cut < end:
            cut = data.find(b"\n", cut - 1)
            cut = end if cut < 0 else min(cut + 1, end)
            while quotes and cut < end and data.count(b'"', start, cut) % 2:
                nxt = data.find(b"\n", cut)
                cut = end if nxt < 0 else min(nxt + 1, end)
        ranges.append((start, cut))
        start = cut
    return ranges


def layout_of(raw_bytes: bytes, batch_bytes: int = DEFAULT_BATCH_BYTES) -> CsvLayout:
    """Decode, find the delimiter and header, and plan the batches of one CSV file."""
    if b"\x00" in raw_bytes[:4096] and not raw_bytes.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("not a CSV: the file holds binary data")
    data, note = to_utf8(raw_bytes)
    if not data or data.isspace():  # isspace stops at the first other byte: no copy
        raise FileProblem("empty file: no header and no rows")
    header_end = _header_line_end(data)
    header_line = data[:header_end]
    delimiter = detect_delimiter(header_line.decode("utf-8"))
    header = _parse_header(header_line, delimiter)
    body_end = _end_of_rows(data)  # trailing blank lines are not rows
    if body_end <= header_end:
        raise FileProblem("empty file: a header but no data rows")
    notes = [note] if note else []
    if delimiter != ",":
        notes.append(f"delimiter {DELIMITER_NAMES[delimiter]}")
    has_quotes = b'"' in data
    return CsvLayout(
        data=data,
        delimiter=delimiter,
        header=header,
        header_end=header_end,
        batches=_batch_ranges(data, header_end, body_end, batch_bytes, has_quotes),
        has_quotes=has_quotes,
        notes=notes,
    )


def _end_of_rows(data: bytes) -> int:
    """Offset just past the last row's line break: trailing blank lines are not rows.

    Only line-break bytes are trimmed (a trailing TAB or space may be a cell), and the
    last row keeps its own line break: in the usual file, which ends with one, the rows
    end where the data ends and no batch needs a copy of the bytes.
    """
    end = len(data)
    while end > 0 and data[end - 1] in (0x0A, 0x0D):
        end -= 1
    if data[end:end + 2] == b"\r\n":
        return end + 2
    return end + 1 if data[end:end + 1] in (b"\n", b"\r") else end


def _read_counting(layout: CsvLayout, batch: int, chunk: bytes) -> tuple[pl.DataFrame, int | None]:
    """polars' reading of one batch, and (no quotes in the file) its delimiter count.

    polars lets go of the GIL while it parses, so the byte count (~0.2 s per 200 MB,
    holding the GIL) runs beside it in this thread instead of after it.
    """
    if layout.has_quotes:
        return _read_chunk(layout, batch, chunk), None
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_read_chunk, layout, batch, chunk)
        delimiters = chunk.count(layout.delimiter.encode())
        return reading.result(), delimiters


def _read_chunk(
    layout: CsvLayout, batch: int, chunk: bytes, columns: list[int] | None = None
) -> pl.DataFrame:
    """polars' reading of one batch's `chunk` (all text); a malformed row fails the file."""
    try:
        return pl.read_csv(chunk, separator=layout.delimiter, infer_schema=False,
                           columns=columns)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError,
            pl.exceptions.SchemaError):
        start = layout.batches[batch][0]
        first_line = layout.data.count(b"\n", 0, start) - 1
        where = first_ragged_line(chunk.decode("utf-8"), layout.row_shape, first_line)
        raise FileProblem(f"not a well-formed CSV: {where}") from None


def read_column(layout: CsvLayout, batch: int, name: str) -> pl.Series:
    """One column of one batch, as text (e.g. every exam id of a large file, cheaply)."""
    frame = _read_chunk(layout, batch, layout.chunk(batch), [layout.header.index(name)])
    return frame.to_series().alias(name)


def read_batch(layout: CsvLayout, batch: int, row_offset: int) -> RawTable:
    """Parse one batch of a file into text cells numbered from `row_offset + 1`."""
    chunk = layout.chunk(batch)
    names = [h if h else f"_blank_{i}" for i, h in enumerate(layout.header)]
    frame, delimiters = _read_counting(layout, batch, chunk)
    frame.columns = names
    problems, notes = row_shape_problems(frame.height, chunk, layout.row_shape, delimiters)
    layout.notes.extend(n for n in notes if n not in layout.notes)
    kept = [n for n in names if not n.startswith("_blank_")]
    cells = frame.select(
        (pl.int_range(1, frame.height + 1, dtype=pl.Int64) + row_offset).alias(ROW_NUMBER),
        *[pl.col(c) for c in kept],
    ).with_columns(problems)
    blank = _blank_rows(cells, kept)
    if blank is not None:
        cells = cells.filter(~blank)
    return RawTable(
        cells=cells,
        extra_columns=layout.extra_columns,
        blank_rows=0 if blank is None else int(blank.sum()),
    )


def _blank_rows(cells: pl.DataFrame, columns: list[str]) -> pl.Series | None:
    """Rows in which no cell holds anything but blanks (empty lines, `,,,,` lines).

    Checked in two steps so that the usual file pays one null test per cell: only rows
    whose other cells are all null can be blank, and only their first cell is stripped.
    """
    first, rest = columns[0], columns[1:]
    rest_null = cells.select(pl.all_horizontal(pl.col(rest).is_null()) if rest else pl.lit(True))
    rest_null = rest_null.to_series()
    if not rest_null.any():
        return None
    head = cells.get_column(first)
    return rest_null & (head.is_null() | (head.str.strip_chars() == "")).fill_null(True)


def cells_from_text(text: str) -> RawTable:
    """Text cells of a whole CSV text in one batch (tests and small inputs)."""
    data = text.encode("utf-8")
    layout = layout_of(data, batch_bytes=len(data) + 1)
    return read_batch(layout, 0, 0)

