"""Read a canonical exam CSV into text cells, keeping every row as it was read.

All cells are read as text (no inference), so that nothing is coerced silently: typing
happens in `transforms.parse`, where a bad cell becomes a quarantine reason. Each row keeps
its 1-based data row number and its raw cells (JSON) for the quarantine table.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from transforms.columns import AGE_HEADER, CANONICAL_COLUMNS, REQUIRED_HEADER, ROW_NUMBER
from transforms.errors import FileProblem

RAW: str = "_raw"
BOM = b"\xef\xbb\xbf"


@dataclass
class RawTable:
    """The text cells of one file plus what was learned while reading it."""

    cells: pl.DataFrame  # canonical columns present (text), `_row_number`, `_raw`
    extra_columns: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.cells.height


def sha256_of(data: bytes) -> str:
    """Content hash that identifies a file across runs (re-loads are skipped by it)."""
    return hashlib.sha256(data).hexdigest()


def normalise_header(name: str) -> str:
    """Header names are case-insensitive; surrounding blanks and a BOM are ignored."""
    return name.replace("\ufeff", "").strip().lower()


def decode_utf8(data: bytes) -> str:
    """Decode UTF-8 (BOM accepted) or fail the file with the byte offset of the problem."""
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(
            f"undecodable bytes: not UTF-8 at byte {exc.start} (line {line})"
        ) from None


def _first_ragged_line(text: str, delimiter: str) -> str:
    """Locate the first line whose field count differs from the header's (error path)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        width = len(next(reader))
        for fields in reader:
            if fields and len(fields) != width:
                return (
                    f"line {reader.line_num} has {len(fields)} fields, "
                    f"the header has {width}"
                )
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}"
    return "unbalanced quotes or malformed rows"


def cells_from_text(text: str, delimiter: str = ",") -> RawTable:
    """Split decoded CSV text into a frame of text cells with row numbers and raw rows."""
    if not text.strip():
        raise FileProblem("empty file: no header and no rows")
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=delimiter,
            infer_schema=False,
            has_header=True,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError):
        raise FileProblem(
            f"not a well-formed CSV: {_first_ragged_line(text, delimiter)}"
        ) from None
    headers = [normalise_header(c) for c in frame.columns]
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        raise FileProblem(f"header names a column twice: {', '.join(duplicates)}")
    frame.columns = headers
    missing = [c for c in REQUIRED_HEADER if c not in headers]
    if not any(c in headers for c in AGE_HEADER):
        missing.append(" or ".join(AGE_HEADER))
    if missing:
        raise FileProblem(f"required column missing: {', '.join(missing)}")
    if frame.height == 0:
        raise FileProblem("empty file: a header but no data rows")
    blank_names = [h for h in headers if h == "" or h.startswith("_duplicated_")]
    extra = [h for h in headers if h not in CANONICAL_COLUMNS and h not in blank_names]
    raw = pl.struct([pl.col(c) for c in frame.columns]).struct.json_encode()
    cells = frame.with_row_index(ROW_NUMBER, offset=1).select(
        pl.col(ROW_NUMBER).cast(pl.Int64),
        *[pl.col(c) for c in headers if c in CANONICAL_COLUMNS],
        raw.alias(RAW),
    )
    return RawTable(cells=cells, extra_columns=extra)


def read_canonical_csv(path: Path) -> tuple[bytes, RawTable]:
    """Read one canonical CSV file: its bytes (for the sha256) and its text cells."""
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise FileProblem("not a CSV: the file holds binary data")
    return data, cells_from_text(decode_utf8(data))
