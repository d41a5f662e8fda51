"""The `dxa measures` command (thin: parse, call `pipelines.app.measures`, print).

Registered on the main app by `pipelines.cli.commands`. Counts only leave the registry,
and a denominator under 11 reads `suppressed (n < 11)` in every format.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from pipelines import app as application
from pipelines.cli.console import err, fail, out
from pipelines.cli.key_option import KeyFile
from pipelines.cli.options import ReaderDb
from pipelines.readers.reporting.render_text import section_table


class MeasuresFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    html = "html"


class MeasuresBy(StrEnum):
    scanner = "scanner"
    sex = "sex"
    age_band = "age_band"


def measures_command(
    db: ReaderDb,
    period: Annotated[
        str | None, typer.Option(help="2025, 2025Q3 or 2025-01-01:2025-12-31 (default: the "
                                      "last complete quarter).")] = None,
    by: Annotated[MeasuresBy | None, typer.Option(help="Breakdown besides overall.")] = None,
    fmt: Annotated[MeasuresFormat, typer.Option(
        "--format", help="table, csv, json or html (html needs --output).")] = (
        MeasuresFormat.table),
    output: Annotated[Path | None, typer.Option(help="Write to this file (0600).")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Report date, YYYY-MM-DD (default today).")] = None,
    ruleset: Annotated[
        str | None, typer.Option(help="Ruleset of the decisions (default: the primary).")
    ] = None,
    key_file: KeyFile = None,
) -> None:
    """The quality measures (QM-*) of a period with their counts and 95 % Wilson
    intervals, overall and by scanner, sex or age band, and the trend over 8 quarters."""
    if fmt is MeasuresFormat.html and output is None:
        fail("--format html writes a page: give it a file with --output FILE")
    if fmt is MeasuresFormat.table and output is not None:
        fail("--format table prints on the screen: write csv, json or html with --output")
    result = application.measures(application.MeasuresQuery(
        db, period, by.value if by else None, as_of, ruleset))
    if fmt is MeasuresFormat.table:
        for section in application.measures_sections(result):
            out.print(section_table(section))
            if section.note:
                out.print(Text(section.note))
        return
    text = application.measures_text(result, fmt.value)
    if output is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    from pipelines.runtime.export_files import write_private_text

    write_private_text(output, text)
    err.print(Text(f"wrote {output}"))  # a file name is text, never markup
