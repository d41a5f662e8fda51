"""`dxa run` without the command line: check the request, run the flow, shape its errors.

The CLI parses options and prints; this module decides what a run needs before it
starts (every path exists, the ruleset and precision file are valid) and turns what can
go wrong during the run into errors of our own with a message safe to show.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from pipelines.cli.console import EXIT_COMPLETED, EXIT_INPUTS_FAILED, out
from pipelines.ingest.outcome import RunSummary
from pipelines.runtime.messages import safe_reason, write_details
from schemas.errors import DxaError

if TYPE_CHECKING:
    from pipelines.runtime.temporary_api import PrefectApi


class RunNotStarted(DxaError):
    """The run was refused before it started (a missing path, a bad option)."""


class RunIncomplete(DxaError):
    """The run started but could not complete; the registry holds nothing of it."""


def execute_run(
    paths: list[Path],
    db: Path,
    *,
    ruleset: str,
    fmt: str,
    lock_timeout_s: float,
    date_format: str | None,
    precision: Path | None,
    t_reference: str | None = None,
    dask: str | None,
    show_progress: bool,
    verbose: bool = False,
) -> RunSummary:
    """Run the registry flow in this process; raise DxaError when it cannot complete.

    Prefect's temporary API server (when no server is configured) starts first, so that
    it comes up while this process imports and checks (`pipelines.runtime.temporary_api`).
    """
    from pipelines.runtime.temporary_api import prefect_api

    with prefect_api() as api:
        return _execute(paths, db, api, ruleset=ruleset, fmt=fmt,
                        lock_timeout_s=lock_timeout_s, date_format=date_format,
                        precision=precision, t_reference=t_reference, dask=dask,
                        show_progress=show_progress, verbose=verbose)


def _execute(
    paths: list[Path],
    db: Path,
    api: PrefectApi,
    *,
    ruleset: str,
    fmt: str,
    lock_timeout_s: float,
    date_format: str | None,
    precision: Path | None,
    t_reference: str | None,
    dask: str | None,
    show_progress: bool,
    verbose: bool,
) -> RunSummary:
    from pipelines.ingest.settings import resolve_settings

    # validated now, in a second, not after Prefect started; the flow gets the same objects
    resolve_settings(ruleset, str(precision) if precision else None, fmt, date_format,
                     lock_timeout_s, t_reference)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RunNotStarted(f"no such file or folder: {', '.join(missing)}")
    if not db.parent.is_dir():
        raise RunNotStarted(f"--db {db}: the folder {db.parent} does not exist")

    from pipelines.flows.nightly import registry_flow
    from pipelines.registry.rulesets import RulesetConflict
    from pipelines.registry.store import RegistryLocked
    from pipelines.runtime import progress

    if not verbose:  # Prefect is imported and has set up its logging: re-route it
        from pipelines.runtime.logs import route_library_logging

        route_library_logging()

    status = out.status("Starting the flow (Prefect local ephemeral mode)...") if (
        show_progress and sys.stdout.isatty()) else None
    if status is not None:
        status.start()
        progress.set_reporter(lambda stage, detail: status.update(Text(f"{stage}: {detail}")))
    if dask is not None:
        from pipelines.flows.runners import task_runner_for

        registry_flow = registry_flow.with_options(task_runner=task_runner_for(dask))
    preload_flow_imports()
    try:
        with api.in_use():
            return registry_flow(
                paths=[str(p) for p in paths], db=str(db), ruleset=ruleset, fmt=fmt,
                lock_timeout_s=lock_timeout_s, date_format=date_format,
                precision=str(precision) if precision else None, t_reference=t_reference,
            )
    except (RegistryLocked, RulesetConflict):
        raise  # its message says all: the lock or the two contents, nothing written
    except Exception as exc:  # noqa: BLE001 - one line for the user, details in a file
        raise RunIncomplete(_incomplete(exc)) from exc
    finally:
        if status is not None:
            status.stop()
        progress.set_reporter(None)


def preload_flow_imports() -> None:
    """Import what the flow would import on first use, while the early server still starts.

    Prefect's engines; FastAPI's JSON encoder (Prefect encodes the flow's parameters with
    it); pandera's polars backends (its built-in checks import Hypothesis's strategies).
    About 0.4 s that a first run otherwise spends after the server has answered.
    """
    import fastapi.encoders  # noqa: F401, PLC0415
    import pandera.backends.polars.builtin_checks  # noqa: F401, PLC0415
    import pandera.backends.polars.components  # noqa: F401, PLC0415
    import pandera.backends.polars.container  # noqa: F401, PLC0415
    import prefect.flow_engine  # noqa: F401, PLC0415
    import prefect.task_engine  # noqa: F401, PLC0415


def _incomplete(exc: BaseException) -> str:
    return f"the run could not complete: {safe_reason(exc)} (details in {write_details(exc)})"


def exit_code(summary: RunSummary) -> int:
    """0 when every input loaded or was skipped; 2 when one failed or none was found."""
    if not summary.files or summary.files_failed:
        return EXIT_INPUTS_FAILED
    return EXIT_COMPLETED


def no_exports_message(paths: list[Path]) -> str:
    return f"no exports found in {', '.join(str(p) for p in paths)}"
