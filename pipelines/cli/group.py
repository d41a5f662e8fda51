"""The command group every `dxa` command runs in: our own errors end as one line.

Errors the user can act on (a locked registry, a bad ruleset, a missing path, a `--db`
that is not a registry) are our own errors (`schemas.errors.DxaError`); they are caught
here, once, and end with a one-line reason on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from typer.core import TyperGroup

from pipelines.cli.console import fail, warn
from pipelines.runtime.messages import safe_reason
from pipelines.runtime.privacy import private_files
from schemas.errors import DxaError, DxaWarning


class DxaGroup(TyperGroup):
    """Every command's DxaError becomes one line on stderr and exit 1; every file a
    command creates is its owner's only (`pipelines.runtime.privacy.private_files`: held
    for the whole command, as DuckDB writes its write-ahead log and temporary files long
    after the registry was opened; the process is that one command, so its umask is)."""

    def invoke(self, ctx: Any) -> Any:  # noqa: ANN401 - click's signature
        with warnings.catch_warnings():
            warnings.showwarning = _show_ours(warnings.showwarning)
            try:
                with private_files():
                    return super().invoke(ctx)
            except DxaError as exc:
                fail(safe_reason(exc))


def _show_ours(previous: Callable[..., None]) -> Callable[..., None]:
    """Our warnings as one `dxa: warning:` line; a library's as Python shows them."""

    def show(message: Warning | str, category: type[Warning], *args: Any,
             **kwargs: Any) -> None:
        if issubclass(category, DxaWarning):
            warn(str(message))
        else:
            previous(message, category, *args, **kwargs)

    return show
