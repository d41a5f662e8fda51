"""Write a worklist as CSV, Excel or Parquet, with what the list is and how it was made.

Excel goes through polars' `write_excel` (xlsxwriter): dates as dates and numbers as
numbers, a frozen header and a filter on the list sheet, and an `about` sheet describing
the list (what it is, as-of date, ruleset, when generated, row count, that it holds
patient identifiers). Parquet keeps the same description in its file metadata; CSV holds
the rows only.

Ids and serials come from vendors' exports and may start like a spreadsheet formula:
every text cell of a CSV or Excel list is neutralised (`spreadsheet_cells`), and the
workbook writes strings as strings (xlsxwriter would otherwise turn a string starting
with `=` into a formula and one that looks like a URL into a link). Parquet is typed data
and is written as it is.

Each file is written private (0600) under a temporary name and moved into place
(`pipelines.runtime.export_files`), so a half-written list never sits where a colleague
expects the real one. The workbook is assembled in memory (no patient rows in the
system's temporary folder) and written in one go.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.readers.spreadsheet_cells import neutralise
from pipelines.runtime.export_files import private_output

OUTPUT_FORMATS = (".csv", ".xlsx", ".parquet")

#: Strings stay strings: no formulas, no links, no numbers made of text; nothing is
#: written to the temporary folder.
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False, "in_memory": True}

#: The `about` sheet's line on formula-like cells.
TEXT_CELLS_NOTE = ("a text cell that would start with =, +, -, @, a tab or a carriage "
                   "return (unless it is a number) is shown with a leading ' so that no "
                   "cell is read as a formula or a link")


def write_worklist(rows: pl.DataFrame, output: Path, about: dict[str, str], sheet: str) -> None:
    """Write `rows` to `output` in the format its suffix names."""
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(f"unknown worklist format {suffix!r}")
    with private_output(output) as temporary:
        if suffix == ".csv":
            neutralise(rows).write_csv(temporary)
        elif suffix == ".parquet":
            rows.write_parquet(temporary, metadata=about)
        else:
            temporary.write_bytes(excel_bytes(rows, about, sheet))


def excel_bytes(rows: pl.DataFrame, about: dict[str, str], sheet: str) -> bytes:
    """The workbook: the list on its own sheet (typed columns, frozen header, filter),
    then `about` with the note on text cells."""
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS) as workbook:
        neutralise(rows).write_excel(
            workbook=workbook, worksheet=sheet[:31], freeze_panes=(1, 0), autofit=True,
            dtype_formats={pl.Date: "yyyy-mm-dd", pl.Datetime: "yyyy-mm-dd hh:mm:ss",
                           pl.Float64: "0.00", pl.Int64: "0", pl.Int32: "0"},
        )
        described = {**about, "text cells": TEXT_CELLS_NOTE}
        description = pl.DataFrame({"field": list(described),
                                    "value": list(described.values())})
        neutralise(description).write_excel(workbook=workbook, worksheet="about",
                                            autofit=True, autofilter=False)
    return buffer.getvalue()
