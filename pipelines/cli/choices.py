"""The fixed choices of `dxa` options, generated from what is registered.

Typer shows an Enum's values as the option's choices and refuses anything else with
exit code 2 and the valid choices listed, so `--format lunr` never starts a run. The
values come from the registries themselves (input formats, date orders): a format
added there is a choice here without another edit. (`dxa report --format` has its own
enum, `pipelines.readers.reporting.formats.ReportFormat`.)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sources.canonical import DATE_FORMATS
from sources.detect import FORMAT_ALIASES

InputFormat = StrEnum("InputFormat", {name: name for name in FORMAT_ALIASES})
DateFormat = StrEnum("DateFormat", {name: name for name in DATE_FORMATS if name})


def choices_metavar(choices: Iterable[str]) -> str:
    """An option's choices as its help shows them, `<auto | canonical | ...>`: with room to
    wrap between two choices, so that a narrow column never breaks one mid-word (typer's
    own `<auto|canonical|...>` is a single word that rich folds anywhere)."""
    return "<" + " | ".join(str(choice) for choice in choices) + ">"
