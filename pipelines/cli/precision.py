"""The `dxa precision` command (thin: parse, call `pipelines.app.precision`, print).

Registered on the main app by `pipelines.cli.commands`. The rows go to stdout in the
chosen format; what the written file leaves to the default, and the file written, go to
stderr, so that `--format csv` or `json` stays machine-readable.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from pipelines import app as application
from pipelines.cli.console import err, out
from pipelines.cli.key_option import KeyFile
from pipelines.cli.options import ReaderDb
from pipelines.readers.reporting.render_text import section_table


class PrecisionFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def precision_command(
    db: ReaderDb,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the precision file (TOML) that dxa run --precision reads."),
    ] = None,
    fmt: Annotated[PrecisionFormat, typer.Option("--format", help="table, csv or json.")] = (
        PrecisionFormat.table),
    key_file: KeyFile = None,
) -> None:
    """The facility's own precision per scanner and site, from same-day repeat exams (ISCD):
    RMS SD and %CV, LSC = 2.77 x precision, ISCD minimum met, study complete (df >= 30)."""
    outcome = application.precision(db, output)
    study = outcome.study
    if fmt is PrecisionFormat.csv:
        print(study.csv(), end="")
    elif fmt is PrecisionFormat.json:
        print(study.json())
    else:
        section = study.section()
        out.print(section_table(section))
        out.print(Text(section.note or ""))
    if output is None:
        return
    for note in outcome.notes:
        err.print(Text(f"note: {note}"))
    held = (f"{outcome.written} scanner and site values of the facility's own; every other "
            "scanner and site uses [default]" if outcome.written
            else "no scanner and site has a complete study: [default] only")
    err.print(Text(f"wrote {output}: {held}"))
