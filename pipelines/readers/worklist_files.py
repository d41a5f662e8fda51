"""Write a worklist as CSV, Excel or Parquet, with what the list is and how it was made.

Excel goes through polars' `write_excel` (xlsxwriter): dates as dates and numbers as
numbers, a frozen header and a filter on the list sheet, and an `about` sheet describing
the list (what it is, as-of date, ruleset, when generated, row count, that it holds
patient identifiers). Parquet keeps the same description in its file metadata; CSV holds
the rows only. Files are written under a temporary name and moved into place, so a
half-written list never sits where a colleague expects the real one.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import xlsxwriter

OUTPUT_FORMATS = (".csv", ".xlsx", ".parquet")


def write_worklist(rows: pl.DataFrame, output: Path, about: dict[str, str], sheet: str) -> None:
    """Write `rows` to `output` in the format its suffix names."""
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(f"unknown worklist format {suffix!r}")
    temporary = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        if suffix == ".csv":
            rows.write_csv(temporary)
        elif suffix == ".parquet":
            rows.write_parquet(temporary, metadata=about)
        else:
            write_excel(rows, temporary, about, sheet)
        os.replace(temporary, output)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_excel(rows: pl.DataFrame, path: Path, about: dict[str, str], sheet: str) -> None:
    """The list on its own sheet (typed columns, frozen header, filter), then `about`."""
    with xlsxwriter.Workbook(str(path)) as workbook:
        rows.write_excel(
            workbook=workbook, worksheet=sheet[:31], freeze_panes=(1, 0), autofit=True,
            dtype_formats={pl.Date: "yyyy-mm-dd", pl.Datetime: "yyyy-mm-dd hh:mm:ss",
                           pl.Float64: "0.00", pl.Int64: "0", pl.Int32: "0"},
        )
        description = pl.DataFrame({"field": list(about), "value": list(about.values())})
        description.write_excel(workbook=workbook, worksheet="about", autofit=True,
                                autofilter=False)
