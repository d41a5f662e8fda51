"""What `dxa` prints: the two consoles, the one-line error, the run summary tables.

Kept apart from the command definitions (`pipelines.cli`) so that each command's body
stays a few lines: parse options, call the work, print.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from pipelines.outcome import RunSummary

# On a terminal rich fits the screen; in logs and pipes, wide enough to keep paths whole.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

#: The run (or command) could not complete; nothing of it was written.
EXIT_FAILED = 1


def fail(message: str, code: int = EXIT_FAILED) -> None:
    """Print a one-line reason and exit non-zero."""
    err.print(f"[bold red]dxa: error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _files_table(summary: RunSummary) -> Table:
    table = Table(title=f"Run {summary.run_id} ({summary.ruleset}): {summary.status}")
    for name in ("input", "format", "status", "read", "loaded", "quarantined", "duplicate"):
        table.add_column(name, justify="right" if name in ("read", "loaded", "quarantined",
                                                           "duplicate") else "left")
    for f in summary.files:
        table.add_row(
            f.path, f.source_format or "-", f.status, str(f.rows_read), str(f.rows_loaded),
            str(f.rows_quarantined), str(f.rows_duplicate),
        )
    table.add_section()
    table.add_row(
        "total", "", "", *(str(summary.total(k)) for k in
                           ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")),
    )
    return table


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("value")
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(key, str(value))
    return table


#: Counts of rows set aside that the adapter's own note already explains (APEX: "N exam(s)
#: with both hips scanned: kept the hip with the lower T-score"): printed once, not twice,
#: and a hip not kept is part of a loaded exam, not an exam "not loaded".
EXPLAINED_BY_NOTES = frozenset({"contralateral_hips"})


def print_summary(summary: RunSummary) -> None:
    out.print(_files_table(summary))
    for f in summary.files:
        if f.error:
            out.print(f"[yellow]failed:[/] {f.path}: {f.error}", highlight=False)
        if f.extra_columns:
            out.print(f"[yellow]note:[/] {f.path}: unknown columns kept aside: "
                      f"{', '.join(f.extra_columns)}", highlight=False)
        for note in f.notes:
            out.print(f"note: {f.path}: {note}", highlight=False)
        for key, value in f.excluded.items():
            if not value or key in EXPLAINED_BY_NOTES:
                continue
            out.print(f"note: {f.path}: {value} {key.replace('_', ' ')} not loaded as exams",
                      highlight=False)
    for path in summary.ignored:
        out.print(f"note: ignored {path} (documentation, not an export)", highlight=False)
    if summary.quarantine_reasons:
        out.print(_counts_table("Quarantine reasons", summary.quarantine_reasons))
    if summary.categories:
        out.print(_counts_table("Categories", summary.categories))
    if summary.treatments:
        out.print(_counts_table("Treatment", summary.treatments))
    if summary.reporting_copy:
        out.print(f"Reporting copy for queries and dashboards: {summary.reporting_copy}",
                  highlight=False)
