"""Options several commands declare alike, defined once (help text, environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.defaults import DB_ENVVAR

#: `--db` of a reader that may be pointed at the registry or its reporting copy.
ReaderDb = Annotated[Path, typer.Option(help="Registry (or reporting copy) DuckDB file.",
                                        envvar=DB_ENVVAR)]
