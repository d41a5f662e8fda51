"""`--key-file FILE`: the one definition every command that opens a registry shares.

The registry's encryption key comes from a file (or `DXA_KEY_FILE` naming one), never as
a value on the command line, where `ps` and shell history would show it. The option's
callback hands the file to the application for as long as the command runs (click closes
the resource with the command's context), so the flows and readers open the registry
with it without the key travelling through their parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from pipelines.cli.defaults import KEY_FILE_ENVVAR


def _unlock(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """Read and check the key file before the command runs; forget the key after it."""
    if ctx.resilient_parsing:
        return value
    from pipelines import app as application

    ctx.with_resource(application.registry_key(value))
    return value


#: The option itself: `key_file: KeyFile = None` in a command's signature.
KeyFile = Annotated[Path | None, typer.Option(
    "--key-file", envvar=KEY_FILE_ENVVAR, callback=_unlock,
    help="Encryption key file of the registry (private, 0600): an encrypted registry "
         "opens, or is created, with it.")]
