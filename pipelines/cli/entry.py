"""The `dxa` console script: Prefect's temporary server starts before anything is imported.

A command that runs a Prefect flow (`dxa run`, `dxa reassess`, `dxa rulesets forget`)
waits for Prefect's temporary API server, whose start is mostly its own imports (about
5 s). Started here, before the CLI imports polars, pandera and Prefect (about 0.7 s more),
it comes up that much sooner (`pipelines.runtime.temporary_api`). Every other command, and
`--help`, starts nothing.
"""

from __future__ import annotations

import os
import sys

#: Help and error panels off a terminal (a pipe, a log, `less`) with no COLUMNS to go by:
#: wide enough for option names, choices and paths to stay whole (rich's own guess is 80).
HELP_WIDTH = 100

#: The first words of the commands that run a flow.
FLOW_COMMANDS: tuple[tuple[str, ...], ...] = (("run",), ("reassess",), ("rulesets", "forget"))


def runs_a_flow(args: list[str]) -> bool:
    """Whether these command-line arguments ask for a command that runs a flow."""
    if "--help" in args:
        return False
    words = [a for a in args if not a.startswith("-")]
    return any(tuple(words[: len(command)]) == command for command in FLOW_COMMANDS)


def set_help_width() -> None:
    """Off a terminal, typer's help gets `HELP_WIDTH` columns unless COLUMNS or typer's own
    TERMINAL_WIDTH says otherwise; typer reads TERMINAL_WIDTH once, so this runs before
    typer is imported. On a terminal rich fits the window."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ or "TERMINAL_WIDTH" in os.environ:
        return
    os.environ["TERMINAL_WIDTH"] = str(HELP_WIDTH)


def main() -> None:
    set_help_width()
    args = sys.argv[1:]
    if runs_a_flow(args):
        from pipelines.runtime.env import configure_prefect_env
        from pipelines.runtime.temporary_api import start_early

        configure_prefect_env(verbose="--verbose" in args)
        start_early()
    from pipelines.cli.commands import main as cli_main

    cli_main()
