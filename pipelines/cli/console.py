"""What `dxa` prints: the two consoles, the one-line error, the run summary tables.

Kept apart from the command definitions (`pipelines.cli.commands`) so that each command's body
stays a few lines: parse options, call the work, print.

Names are data: a file called `exams [draft] v2.csv` or a column `dose [/day]` must be
printed as it is, so rich's markup (square-bracket styles) is off on both consoles;
styles are given as `Text` spans, never parsed from a string.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

from pipelines.app import EXIT_COMPLETED, EXIT_FAILED, EXIT_INPUTS_FAILED
from pipelines.readers.reporting.render_text import section_table
from pipelines.registry.outcome import RunSummary
from pipelines.runtime.progress import Reporter

# On a terminal rich fits the screen; in logs and pipes, wide enough to keep paths whole.
out = Console(width=None if sys.stdout.isatty() else 160, markup=False, highlight=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160, markup=False,
              highlight=False)

__all__ = ["EXIT_COMPLETED", "EXIT_FAILED", "EXIT_INPUTS_FAILED", "err", "fail", "out",
           "on_terminal", "print_json", "print_summary", "run_status", "warn"]


def fail(message: str, code: int = EXIT_FAILED) -> None:
    """Print a one-line reason and exit non-zero."""
    err.print(Text.assemble(("dxa: error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """A one-line warning on stderr (the run went on)."""
    err.print(Text.assemble(("dxa: warning:", "bold yellow"), " ", message), soft_wrap=True)


#: Counts of rows set aside that the adapter's own note already explains (APEX: "N exam(s)
#: with both hips scanned: kept the hip with the lower T-score"): printed once, not twice,
#: and a hip not kept is part of a loaded exam, not an exam "not loaded".
EXPLAINED_BY_NOTES = frozenset({"contralateral_hips"})


def print_json(summary: RunSummary) -> None:
    """`dxa run --json`: the summary in the report model's JSON shape."""
    from pipelines.readers.summary import summary_json

    print(json.dumps(summary_json(summary), indent=2, ensure_ascii=False))


def print_summary(summary: RunSummary) -> None:
    """The run's totals and inputs, the notes, then this run's counts: one report model."""
    from pipelines.readers.summary import run_report

    sections = run_report(summary).sections
    for section in sections[:2]:  # the run's totals and its inputs
        out.print(section_table(section))
    for f in summary.files:
        if f.error:
            out.print(Text.assemble(("failed:", "yellow"), f" {f.path}: {f.error}"))
        if f.moved_to:
            out.print(f"moved: {f.path} -> {f.moved_to}", highlight=False, soft_wrap=True)
        if f.extra_columns:
            out.print(Text.assemble(("note:", "yellow"), f" {f.path}: unknown columns kept"
                                    f" aside: {', '.join(f.extra_columns)}"))
        for note in f.notes:
            out.print(f"note: {f.path}: {note}", highlight=False)
        for key, value in f.excluded.items():
            if not value or key in EXPLAINED_BY_NOTES:
                continue
            out.print(f"note: {f.path}: {value} {key.replace('_', ' ')} not loaded as exams",
                      highlight=False)
    for path in summary.ignored:
        out.print(f"note: ignored {path} (documentation, not an export)", highlight=False)
    for section in sections[2:]:  # quarantine reasons, categories, treatment (flags: report)
        if section.rows and section.key != "flags":
            out.print(section_table(section))
    if summary.reporting_copy:
        out.print(f"Reporting copy for queries and dashboards: {summary.reporting_copy}",
                  highlight=False)
    if summary.html_report:
        out.print(f"Quality report with charts: {summary.html_report}", highlight=False)


@contextmanager
def run_status(show: bool, console: Console = out) -> Iterator[Reporter | None]:
    """On a terminal, a status line that each stage of the work updates and a progress bar
    for each long piece of it (a large file's batches, the exams a re-assessment judges);
    else nothing.

    Yields the progress reporter the work reports to (None off a terminal: logs and pipes
    get only the closing summary; `show=False` for `--json`).
    """
    if not (show and on_terminal(console)):
        yield None
        return
    from pipelines.cli.progress_bars import ProgressBars

    with ProgressBars(console, "Starting the flow (Prefect local ephemeral mode)...") as bars:
        yield bars


def on_terminal(console: Console) -> bool:
    """A person watches `console`: its stream is an interactive terminal. A log or a pipe
    is not, even with FORCE_COLOR set (as CI systems do for coloured logs)."""
    isatty = getattr(console.file, "isatty", None)
    try:
        return console.is_interactive and isatty is not None and bool(isatty())
    except ValueError:  # a closed stream
        return False
