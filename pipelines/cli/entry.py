"""The `dxa` console script: Prefect's temporary server starts before anything is imported.

A command that runs a Prefect flow (`dxa run`, `dxa reassess`, `dxa rulesets forget`)
waits for Prefect's temporary API server, whose start is mostly its own imports (about
5 s). Started here, before the CLI imports polars, pandera and Prefect (about 0.7 s more),
it comes up that much sooner (`pipelines.runtime.temporary_api`). Every other command, and
`--help`, starts nothing.
"""

from __future__ import annotations

import sys

#: The first words of the commands that run a flow.
FLOW_COMMANDS: tuple[tuple[str, ...], ...] = (("run",), ("reassess",), ("rulesets", "forget"))


def runs_a_flow(args: list[str]) -> bool:
    """Whether these command-line arguments ask for a command that runs a flow."""
    if "--help" in args:
        return False
    words = [a for a in args if not a.startswith("-")]
    return any(tuple(words[: len(command)]) == command for command in FLOW_COMMANDS)


def main() -> None:
    args = sys.argv[1:]
    if runs_a_flow(args):
        from pipelines.runtime.env import configure_prefect_env
        from pipelines.runtime.temporary_api import start_early

        configure_prefect_env(verbose="--verbose" in args)
        start_early()
    from pipelines.cli.commands import main as cli_main

    cli_main()
