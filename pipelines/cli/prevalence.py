"""`dxa prevalence`'s output: the estimates as a table, CSV or JSON (the work is in
`pipelines.app.prevalence`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pipelines import app as application
from pipelines.readers.prevalence_options import PrevalenceOptions

FORMATS = ("table", "csv", "json")


def run_prevalence(options: PrevalenceOptions, fmt: str, out: Console) -> None:
    """Compute and print; a refused option or registry is a DxaError (one line, exit 1)."""
    from pipelines.readers.prevalence import (
        PrevalenceError,
        counting_line,
        describe,
        render_csv,
        render_json,
        table_rows,
    )

    if fmt not in FORMATS:
        raise PrevalenceError(f"--format must be table, csv or json, not {fmt!r}")
    request, result = application.prevalence(options)
    if fmt == "json":
        print(render_json(result))
        return
    if fmt == "csv":
        print(render_csv(result, request.by), end="")
        return
    table = Table(title="Prevalence, percent (95 % CI)")
    for name in (*request.by, "n"):
        table.add_column(name, justify="right" if name == "n" else "left")
    table.add_column("osteoporosis", justify="right")
    table.add_column("low bone mass", justify="right")
    for row in table_rows(result, request.by):
        table.add_row(*row)
    out.print(table)
    out.print(describe(request), highlight=False)
    out.print(counting_line(result), highlight=False)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
