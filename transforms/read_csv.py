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


#: Delimiters a messy export may use, in tie-break order.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode UTF-8 (BOM accepted) or, when the bytes are not UTF-8, Windows-1252.

    Returns (text, note): the note says which fallback encoding was used (None for UTF-8).
    Latin-1 is not tried after Windows-1252: the only bytes cp1252 leaves undefined
    (0x81, 0x8D, 0x8F, 0x90, 0x9D) would become control characters, i.e. garbage, so
    such a file fails with the offset of the first undecodable byte.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "decoded as UTF-16"
        except UnicodeDecodeError:
            raise FileProblem("undecodable bytes: bad UTF-16") from None
    try:
        return data.removeprefix(BOM).decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "decoded as Windows-1252 (not valid UTF-8)"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(
            f"undecodable bytes: neither UTF-8 nor Windows-1252 at byte {exc.start} "
            f"(line {line})"
        ) from None


def detect_delimiter(text: str) -> str:
    """The delimiter of a CSV text: whichever of `,` `;` TAB the header line uses most.

    Only the header line is looked at (names never hold these characters); a tie, or a
    header with none of them, means comma.
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties
    return best if counts[best] > 0 else ","


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
    # Blank header names (trailing delimiters) are dropped, never reported.
    blank_names = [h for h in headers if h == "" or h.startswith("_duplicated_")]
    extra = [h for h in headers if h not in CANONICAL_COLUMNS and h not in blank_names]
    kept = [c for c in frame.columns if c not in blank_names]
    raw = pl.struct([pl.col(c) for c in kept]).struct.json_encode()
    cells = frame.with_row_index(ROW_NUMBER, offset=1).select(
        pl.col(ROW_NUMBER).cast(pl.Int64),
        *[pl.col(c) for c in headers if c in CANONICAL_COLUMNS],
        raw.alias(RAW),
    )
    return RawTable(cells=cells, extra_columns=extra)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("not a CSV: the file holds binary data")
    return data


def read_canonical_csv(path: Path) -> tuple[bytes, RawTable]:
    """Read one strict canonical CSV file (UTF-8, comma): its bytes and its text cells."""
    data = _read_bytes(path)
    return data, cells_from_text(decode_utf8(data))


@dataclass
class MessyCsv:
    """A CSV read with the tolerances of `read_messy_csv`, and what was detected."""

    data: bytes
    table: RawTable
    delimiter: str
    notes: list[str] = field(default_factory=list)


def read_messy_csv(path: Path) -> MessyCsv:
    """Read an exam CSV whose encoding and delimiter are detected (see `decode_text`)."""
    data = _read_bytes(path)
    text, note = decode_text(data)
    delimiter = detect_delimiter(text)
    notes = [note] if note else []
    if delimiter != ",":
        notes.append(f"delimiter {_DELIMITER_NAMES[delimiter]}")
    return MessyCsv(data, cells_from_text(text, delimiter), delimiter, notes)


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
