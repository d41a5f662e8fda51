"""SAS transport (XPORT) files read whole with pyreadstat, refused when damaged.

Why this module: pyreadstat reads what it can. A file cut mid-record (a download or a
copy that stopped) loads the rows before the cut without a word, and a character
variable where numbers are expected reaches polars' cast as an error that names no file.
Both are checked here, so that the file fails alone with its name in the message.

Truncation. A transport file is a sequence of 80-byte records: headers, the NAMESTR
records (one per variable, giving its stored length), an OBS header, then the
observations packed one after the other, each as long as the variables' lengths summed,
the last 80-byte record padded with blanks. The observations section of a whole file is
therefore a whole number of 80-byte records holding exactly the rows pyreadstat read and
blanks after them. Version 5 headers carry no row count, so a cut that falls exactly
between two observations, on an 80-byte boundary, cannot be seen; every other cut can.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from schemas.errors import FileProblem

RECORD = 80  # bytes per transport record (header, NAMESTR and observation lines)
BLANK = 0x20
_OBS = re.compile(rb"HEADER RECORD\*{7}OBS(?: {5}|V8 {3})HEADER RECORD!{7}")
_MEMBER = re.compile(rb"HEADER RECORD\*{7}(?:MEMBER|MEMBV8)  HEADER RECORD!{7}")


def read_transport(path: Path) -> pl.DataFrame:
    """The first member of a transport file, with upper-case column names.

    Raises FileProblem when pyreadstat cannot read it or when it is truncated.
    """
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_xport(str(path), output_format="polars")
    except Exception as exc:  # noqa: BLE001 - pyreadstat raises its own error types
        raise FileProblem(f"{path.name}: not a readable SAS transport file "
                          f"({type(exc).__name__})") from None
    record_length = sum(int(width) for width in meta.variable_storage_width.values())
    check_complete(path, frame.height, record_length)
    frame.columns = [c.upper() for c in frame.columns]
    return frame


def _aligned(pattern: re.Pattern[bytes], data: bytes, start: int) -> int | None:
    """Offset of the first match of a header record that starts a record, else None."""
    for match in pattern.finditer(data, start):
        if match.start() % RECORD == 0:
            return match.start()
    return None


def observations(data: bytes) -> tuple[int, int] | None:
    """(first, end) byte offsets of the first member's observations; None: no OBS header."""
    header = _aligned(_OBS, data, 0)
    if header is None:
        return None
    first = header + RECORD
    end = _aligned(_MEMBER, data, first)
    return first, len(data) if end is None else end


def check_complete(path: Path, rows: int, record_length: int) -> None:
    """Refuse a file whose observations section is not `rows` whole observations + blanks.

    The comparison of pyreadstat's row count with what the file's size allows: the
    section must be whole 80-byte records, and after `rows` observations of
    `record_length` bytes only blank padding may follow.
    """
    data = path.read_bytes()
    bounds = observations(data)
    if bounds is None or record_length <= 0:
        raise FileProblem(f"{path.name}: not a readable SAS transport file "
                          "(no observation header)")
    first, end = bounds
    used = first + rows * record_length
    whole_records = (end - first) % RECORD == 0
    if used > end or not whole_records or data[used:end].count(BLANK) != end - used:
        raise FileProblem(f"{path.name}: the file is truncated (it ends inside an "
                          f"observation record, after {rows} whole observations)")


def numeric(frame: pl.DataFrame, columns: list[str], name: str) -> pl.DataFrame:
    """`columns` as Float64; a variable stored as text (or dates) fails the file.

    Names the file and the variable, never a value: a text variable may hold anything.
    """
    for column in columns:
        dtype = frame.schema[column]
        if not (dtype.is_numeric() or dtype == pl.Null):
            kind = "text" if dtype == pl.String else f"{dtype} values"
            raise FileProblem(f"{name}: variable {column} holds {kind}, not numbers")
    return frame.select(pl.col(columns).cast(pl.Float64))
