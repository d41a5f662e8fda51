"""Text cells a spreadsheet opens as text, never as a formula, whatever the registry holds.

Worklists and reports leave the registry as CSV and Excel files that people open in
Excel, LibreOffice or Google Sheets. Those programs read a cell starting with `=`, `+`,
`-`, `@`, a tab or a carriage return as a formula, and a formula can start a program or
send the sheet's data away (OWASP's "CSV injection"). A patient id, exam id or scanner
serial comes from a vendor's export or a hand-edited file, so any of them may start that
way. OWASP's rule is applied to every text cell: such a cell gets a leading `'`, which
spreadsheets read as "this is text" (and hide). A cell that is a whole real number
(`-2.5`, `+3`, `-1e-3`) is left as it is: a spreadsheet reads it as that number, nothing
more (`-2+3` is not a number and is neutralised). Numeric, date and boolean columns are
typed and untouched; Parquet is typed data and is written as it is.
"""

from __future__ import annotations

import polars as pl

#: The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_START = r"^[=+\-@\t\r]"
#: A whole real number, as a spreadsheet reads one: left as it is.
REAL_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
#: What a neutralised cell starts with.
TEXT_MARK = "'"


def neutralised(column: str) -> pl.Expr:
    """The text column `column` with each formula-like cell prefixed by `'` (nulls stay)."""
    cell = pl.col(column)
    formula = cell.str.contains(FORMULA_START) & ~cell.str.contains(REAL_NUMBER)
    return pl.when(formula).then(pl.lit(TEXT_MARK) + cell).otherwise(cell).alias(column)


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text column neutralised (one expression per column, no row loop).

    Categorical and enum columns are written as text too, so they are cast and checked.
    """
    text = [name for name, dtype in frame.schema.items()
            if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))]
    return frame.with_columns(pl.col(text).cast(pl.String)).with_columns(
        neutralised(name) for name in text)
