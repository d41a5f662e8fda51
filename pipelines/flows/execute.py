"""`dxa run` without the command line: check the request, run the flow, shape its errors.

The CLI parses options and prints; this module decides what a run needs before it
starts (every path exists, the ruleset and precision file are valid) and turns what can
go wrong during the run into errors of our own with a message safe to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.flows.move_failed import check_target
from pipelines.registry.identify import check_path
from pipelines.registry.outcome import RunSummary
from pipelines.runtime import progress
from pipelines.runtime.messages import safe_reason, write_details
from schemas.errors import DxaError

if TYPE_CHECKING:
    from pipelines.runtime.temporary_api import PrefectApi


class RunNotStarted(DxaError):
    """The run was refused before it started (a missing path, a bad option)."""


class RunIncomplete(DxaError):
    """The run started but could not complete; the registry holds nothing of it."""


@dataclass(frozen=True)
class RunRequest:
    """Everything `dxa run` is asked, as the flow's parameters take it."""

    paths: list[Path]
    db: Path
    ruleset: str = "core-2025"
    fmt: str = "auto"
    lock_timeout_s: float = 30.0
    date_format: str | None = None
    precision: Path | None = None
    t_reference: str | None = None
    dask: str | None = None
    verbose: bool = False
    #: where inputs that failed as a whole are moved after the run (not a flow parameter:
    #: the facade moves them once the flow has recorded them)
    move_failed: Path | None = None

    def flow_parameters(self) -> dict[str, object]:
        """The flow's parameters: plain values, as a deployment would store them."""
        return {"paths": [str(p) for p in self.paths], "db": str(self.db),
                "ruleset": self.ruleset, "fmt": self.fmt,
                "lock_timeout_s": self.lock_timeout_s, "date_format": self.date_format,
                "precision": str(self.precision) if self.precision else None,
                "t_reference": self.t_reference}


def execute_run(request: RunRequest,
                on_progress: progress.Reporter | None = None) -> RunSummary:
    """Run the registry flow in this process; raise DxaError when it cannot complete.

    Prefect's temporary API server (when no server is configured) starts first, so that
    it comes up while this process imports and checks (`pipelines.runtime.temporary_api`).
    `on_progress`: called with each progress update as the run goes (a terminal's status
    line and bars).
    """
    from pipelines.runtime.temporary_api import prefect_api

    with prefect_api() as api:
        return _execute(request, api, on_progress)


def _check(request: RunRequest) -> None:
    """Refuse what would fail later, in a second, before Prefect starts."""
    from pipelines.ingest.settings import resolve_settings
    from sources.detect import broken_link

    # validated now, in a second, not after Prefect started; the flow gets the same objects
    resolve_settings(request.ruleset, str(request.precision) if request.precision else None,
                     request.fmt, request.date_format, request.lock_timeout_s,
                     request.t_reference)
    missing = [str(p) for p in request.paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise RunNotStarted(f"no such file or folder: {', '.join(missing)}")
    for path in request.paths:  # a link to itself or to nothing: said so, not "no such file"
        if (broken := broken_link(path)) is not None:
            raise RunNotStarted(f"{path}: {broken}")
    if not request.db.parent.is_dir():
        raise RunNotStarted(f"--db {request.db}: the folder {request.db.parent} does not exist")
    check_path(request.db)  # a folder, a CSV, an image: refused before Prefect starts
    if request.move_failed is not None:
        check_target(request.move_failed, request.paths)


def _execute(request: RunRequest, api: PrefectApi,
             on_progress: progress.Reporter | None) -> RunSummary:
    _check(request)
    from pipelines.flows.nightly import registry_flow
    from pipelines.flows.outcome_state import summary_of
    from pipelines.registry.duckdb_file import NewerSchema
    from pipelines.registry.identify import NotARegistry
    from pipelines.registry.rulesets import RulesetConflict
    from pipelines.registry.store import RegistryLocked

    if not request.verbose:  # Prefect is imported and has set up its logging: re-route it
        from pipelines.runtime.logs import route_library_logging

        route_library_logging()
    if request.dask is not None:
        from pipelines.flows.runners import task_runner_for

        registry_flow = registry_flow.with_options(task_runner=task_runner_for(request.dask))
    preload_flow_imports()
    try:
        with api.in_use(), progress.reporting(on_progress):
            # a run with failed inputs ends Failed in Prefect, its summary the state's data
            final = registry_flow(**request.flow_parameters(), return_state=True)
        return summary_of(final)
    except (RegistryLocked, RulesetConflict, NotARegistry, NewerSchema):
        raise  # its message says all: the lock, the file, the two contents; nothing written
    except Exception as exc:  # noqa: BLE001 - one line for the user, details in a file
        raise RunIncomplete(_incomplete(exc)) from exc


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


def no_exports_message(paths: list[Path]) -> str:
    return f"no exports found in {', '.join(str(p) for p in paths)}"
