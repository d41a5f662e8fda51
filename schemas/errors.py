"""The project's errors: one root, so callers catch them in one place.

Every error the pipeline raises on purpose derives from `DxaError`. Its message is
written to name files, keys, columns and counts, never a cell's value, so it may be shown
on a screen, stored in `runs.message` or put in a Prefect artifact; `safe_to_show` says
so per class (a subclass whose text may quote data sets it to False). A foreign
exception (DuckDB, polars, pydantic) may quote the data it choked on: only its type is
shown (`pipelines.runtime.messages`).

The branches say what failed and therefore what goes on:

- `InputError`: one input cannot be ingested; it fails alone and the run goes on.
- `ConfigError`: a ruleset or precision file cannot be used; nothing is run.
- `RegistryError`: the registry cannot be opened, read or written as asked; the run (or
  the report) stops, having written nothing of it.

This module sits in `schemas/`, the lowest layer, so that every layer can import it.
"""

from __future__ import annotations

from typing import ClassVar


class DxaError(Exception):
    """Root of the errors the pipeline raises on purpose."""

    #: The message holds no data values: safe for screens, logs and artifacts.
    safe_to_show: ClassVar[bool] = True


class InputError(DxaError):
    """One input cannot be ingested; the other inputs still load."""


class FileProblem(InputError):
    """A whole file cannot be ingested: not a CSV, empty, a required column missing, ...

    The message names the problem but never a cell's value, so it may be logged and
    shown in Prefect artifacts without exposing patient identifiers.
    """


class ConfigError(DxaError):
    """A configuration file (ruleset, precision study) cannot be used."""


class RegistryError(DxaError):
    """The registry cannot be opened, read or written as asked."""


class DxaWarning(UserWarning):
    """Something the user should know while the command goes on (printed as one
    `dxa: warning:` line, never with a traceback or a data value)."""
