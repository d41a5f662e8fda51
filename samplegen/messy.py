"""Messy renderings of canonical exams: the spellings registries send in practice.

`write_messy_csv` writes the same exams as `write_plain_csv`, but with a `;` delimiter,
decimal commas, Unicode minus signs (or en dashes) in scores, `NA` / `-` / `N/A` for blanks,
DD/MM/YYYY (or MM/DD/YYYY) dates, an extra unknown column, trailing empty columns and
Windows-1252 bytes: reading both must give the same exams.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from samplegen._rng import Rng
from samplegen.canonical import COLUMNS, to_text

_DATE_FORMATS = {"DMY": "%d/%m/%Y", "MDY": "%m/%d/%Y"}


def write_plain_csv(frame: pl.DataFrame, path: Path, seed: int) -> Path:
    """The canonical rendering (UTF-8, comma, ISO dates)."""
    to_text(frame, seed).write_csv(path)
    return path


def messy_text(
    frame: pl.DataFrame, seed: int, date_format: str | None = "DMY", minus: str = "\u2212"
) -> pl.DataFrame:
    """Render typed canonical exams as messy text cells (see the module docstring)."""
    text = to_text(frame, seed)
    rng = Rng(seed, pl.int_range(pl.len(), dtype=pl.UInt64))
    token = rng.choice("null_token", [0.4, 0.2, 0.2, 0.2]).replace_strict(
        {0: "", 1: "NA", 2: "-", 3: "N/A"}, return_dtype=pl.String
    )
    exprs = []
    for name, kind in COLUMNS.items():
        col = pl.col(name)
        if kind == "date" and date_format:
            col = col.str.to_date("%Y-%m-%d").dt.to_string(_DATE_FORMATS[date_format])
        elif kind == "number":
            col = col.str.replace(".", ",", literal=True)
            if name.endswith(("_t", "_z")):
                col = col.str.replace("-", minus, literal=True)
        if name not in ("exam_id", "patient_id", "exam_date", "sex"):
            col = pl.when(col.is_null()).then(pl.col("__token")).otherwise(col)
        exprs.append(col.alias(name))
    return text.with_columns(__token=token).select(
        *exprs,
        site_note=pl.lit("Zürich café"),
        __blank1=pl.lit(None, dtype=pl.String),
        __blank2=pl.lit(None, dtype=pl.String),
    )


def write_messy_csv(
    frame: pl.DataFrame,
    path: Path,
    seed: int,
    *,
    date_format: str | None = "DMY",
    encoding: str = "cp1252",
) -> Path:
    """Write the exams as a messy `;`-delimited CSV (see the module docstring)."""
    # U+2212 has no Windows-1252 byte: such exports write the en dash (U+2013) instead.
    minus = "\u2212" if encoding.lower().startswith("utf") else "\u2013"
    cells = messy_text(frame, seed, date_format, minus)
    body = cells.write_csv(separator=";", quote_style="necessary")
    header, rest = body.split("\n", 1)
    header = header.replace("__blank1", "").replace("__blank2", "")
    path.write_bytes((header + "\n" + rest).encode(encoding))
    return path
