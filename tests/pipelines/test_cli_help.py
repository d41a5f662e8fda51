"""`dxa COMMAND --help`: examples at the end, and choices never broken off a terminal."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipelines.cli.choices import DateFormat, InputFormat
from pipelines.cli.commands import app

DXA = Path(sys.executable).parent / "dxa"
EXAMPLED = ("run", "report", "export", "reassess", "compare", "prevalence", "rules",
            "measures")
runner = CliRunner()


def _piped_help(*args: str, **env: str) -> list[str]:
    """`dxa ARGS --help | cat`: stdout a pipe, COLUMNS and TERMINAL_WIDTH as given."""
    clean = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    done = subprocess.run([str(DXA), *args, "--help"], capture_output=True,  # noqa: S603
                          text=True, timeout=60, check=False, env={**clean, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _whole(word: str, lines: list[str]) -> bool:
    return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", "\n".join(lines)) is not None


def test_piped_help_is_100_wide_and_every_choice_word_is_whole() -> None:
    lines = _piped_help("run")
    assert max(len(line) for line in lines) == 100
    for choice in [*InputFormat, *DateFormat]:
        assert _whole(str(choice), lines), choice


def test_piped_help_keeps_the_width_columns_gives() -> None:
    lines = _piped_help("run", COLUMNS="72")
    assert max(len(line) for line in lines) == 72
    for choice in InputFormat:
        assert _whole(str(choice), lines), choice


def test_report_format_choices_are_whole_in_a_pipe() -> None:
    lines = _piped_help("report")
    for choice in ("table", "csv", "json", "markdown", "html"):
        assert _whole(choice, lines), choice


@pytest.mark.parametrize("command", EXAMPLED)
def test_help_ends_with_examples_of_the_command(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    text = result.output
    assert "Examples:" in text
    examples = text[text.index("Examples:"):]
    assert re.search(rf"^\s+dxa {command} ", examples, flags=re.MULTILINE), examples


@pytest.mark.parametrize("command", EXAMPLED)
def test_every_example_uses_options_the_command_has(command: str) -> None:
    """A renamed option cannot leave a stale example behind."""
    group = typer.main.get_command(app)
    cli = group.commands[command]  # type: ignore[attr-defined]
    known = {name for param in cli.params for name in param.opts}
    examples = [line.strip() for line in (cli.epilog or "").splitlines()
                if line.strip().startswith(f"dxa {command}")]
    assert examples
    for example in examples:
        options = [w for w in shlex.split(example) if w.startswith("--")]
        assert set(options) <= known, example
