"""Read an exam CSV into text cells, keeping every row accountable to the file.

All cells are read as text (no inference), so that nothing is coerced silently: typing
happens in `transforms.parse`, where a bad cell becomes a quarantine reason. Each row keeps
its 1-based data row number; the raw row as read (JSON) is built only for the rows that
need it (quarantine), because encoding a million rows nobody will look at costs more than
parsing them.

A file is read in two steps so that a large one can be processed in batches of rows with
bounded memory: `layout_of` looks at the whole file once (encoding, delimiter, header,
line-aligned batch boundaries), then `read_batch` turns one byte range into cells.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from schemas.columns import AGE_HEADER, CANONICAL_COLUMNS, REQUIRED_HEADER
from schemas.errors import FileProblem
from schemas.reasons import REASON_STRUCT, reason_expr
from transforms.columns import ROW_NUMBER, ROW_PROBLEM

BOM = b"\xef\xbb\xbf"

#: Delimiters a messy export may use, in tie-break order.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

#: Batch size of large files, in bytes of CSV text (about 1M canonical exams, ~4 GB of
#: working memory); a file up to this size is read and validated in one piece.
DEFAULT_BATCH_BYTES = 200 * 2**20


@dataclass
class RawTable:
    """The text cells of one file (or batch) plus what was learned while reading it.

    `cells` holds `_row_number`, the canonical columns present (text), the file's unknown
    columns under their header names, and `_row_problem` (why a row is malformed, a
    `schemas.reasons` reason, else null). Blank rows (no cell holds anything) are not
    data: they are counted, not kept.
    """

    cells: pl.DataFrame
    extra_columns: list[str] = field(default_factory=list)
    blank_rows: int = 0

    @property
    def rows_read(self) -> int:
        return self.cells.height


def sha256_of(data: bytes) -> str:
    """Content hash that identifies a file across runs (re-loads are skipped by it)."""
    return hashlib.sha256(data).hexdigest()


def normalise_header(name: str) -> str:
    """Header names are case-insensitive; surrounding blanks and a BOM are ignored."""
    return name.replace("\ufeff", "").strip().lower()


def _is_utf8(data: bytes) -> int | None:
    """None when `data` is valid UTF-8, else the offset of the first bad byte.

    Plain ASCII (most exports) is recognised in one fast pass; otherwise the bytes are
    decoded in slices with an incremental decoder, so that validating a 2 GB file does
    not hold a 2 GB string.
    """
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 64 * 2**20
    for start in range(0, len(data), step):
        try:
            decoder.decode(data[start : start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            return start + exc.start
    return None


def to_utf8(data: bytes) -> tuple[bytes, str | None]:
    """The file's bytes as UTF-8 without BOM, and a note when they had to be converted.

    UTF-8 (BOM accepted) is taken as is; UTF-16 with a BOM and Windows-1252 are
    converted. Latin-1 is not tried after Windows-1252: the only bytes cp1252 leaves
    undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) would become control characters, i.e.
    garbage, so such a file fails with the offset of the first undecodable byte.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8"), "decoded as UTF-16"
        except UnicodeDecodeError:
            raise FileProblem("undecodable bytes: bad UTF-16") from None
    body = data[len(BOM):] if data.startswith(BOM) else data  # no copy without a BOM
    if _is_utf8(body) is None:
        return body, None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(
            f"undecodable bytes: neither UTF-8 nor Windows-1252 at byte {exc.start} "
            f"(line {line})"
        ) from None
    return text.encode("utf-8"), "decoded as Windows-1252 (not valid UTF-8)"


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode UTF-8 (BOM accepted), UTF-16 (BOM) or Windows-1252 text: (text, note)."""
    utf8, note = to_utf8(data)
    return utf8.decode("utf-8"), note


def detect_delimiter(text: str) -> str:
    """The delimiter of a CSV text: whichever of `,` `;` TAB the header line uses most.

    Only the header line is looked at (names never hold these characters); a tie, or a
    header with none of them, means comma.
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties
    return best if counts[best] > 0 else ","


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
        notes.append(f"delimiter {_DELIMITER_NAMES[delimiter]}")
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


def _first_ragged_line(text: str, delimiter: str, width: int, first_line: int) -> str:
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
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        next(reader)
        for fields in reader:
            if fields and len(fields) != width:
                return (
                    f"line {first_line + reader.line_num} has {len(fields)} fields, "
                    f"the header has {width}"
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


def _row_shape_problems(
    rows: int, chunk: bytes, layout: CsvLayout, delimiters: int | None
) -> tuple[pl.Series, list[str]]:
    """Why each row is malformed (null when it is not): today, rows with too few fields.

    polars pads a short row with empty cells, which would load a truncated exam with
    silently missing values; the counts of delimiters tell such rows apart. The common
    case costs one byte count (`delimiters`, None when the file has quotes): exactly
    (width - 1) delimiters per line.
    """
    width = len(layout.header)
    none = pl.repeat(None, rows, dtype=REASON_STRUCT, eager=True).alias(ROW_PROBLEM)
    if delimiters == (rows + 1) * (width - 1):
        return none, []
    counts = _field_counts(chunk, layout.delimiter, layout.has_quotes)
    if counts is None or counts.len() != rows:
        return none, ["row lengths not checked (unbalanced quotes)"]
    short = pl.select(
        pl.when(counts < width).then(
            reason_expr("TRUNCATED_ROW", "row", fields=counts, width=width)
        )
    ).to_series()
    return short.alias(ROW_PROBLEM), []


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
        where = _first_ragged_line(chunk.decode("utf-8"), layout.delimiter,
                                   len(layout.header), first_line)
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
    problems, notes = _row_shape_problems(frame.height, chunk, layout, delimiters)
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


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
