"""`--data-path DIR`: where a new DuckLake registry keeps its Parquet files.

Only a writer that creates a lake (`--db ducklake:postgres:...` naming an empty catalog)
needs it: the catalog remembers the path, so later runs and every reader name the catalog
only. Like `--key-file`, the value is held for the command's duration (click closes the
resource with the command's context) rather than passed through the flows' parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from pipelines.cli.defaults import DATA_PATH_ENVVAR


def _given(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    if ctx.resilient_parsing or value is None:
        return value
    from pipelines import app as application

    ctx.with_resource(application.lake_data_path(value))
    return value


#: The option itself: `data_path: DataPath = None` in a command's signature.
DataPath = Annotated[Path | None, typer.Option(
    "--data-path", envvar=DATA_PATH_ENVVAR, callback=_given,
    help="A new DuckLake registry's data folder (its Parquet files); only with --db "
         "ducklake:postgres:..., and only when the lake is created.")]
