"""Scheduling on a Prefect server: the work pool, `dxa serve`, the cron time zone.

Two routes share one server and must not overwrite each other: `prefect deploy --all`
registers `dxa-nightly` from `prefect.yaml` (run by a worker of the `dxa` process pool),
`dxa serve` registers `dxa-serve` (run by the serving process itself). A deployment name
is unique per flow, so the names differ. The API URL is read from Prefect's settings, so
an environment variable and `prefect config set PREFECT_API_URL=...` (what the server's
banner says) both work.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.errors import DxaError

WORK_POOL = "dxa"
SERVED_DEPLOYMENT = "dxa-serve"
DEFAULT_CRON = "0 2 * * *"
#: The cron schedule's default time zone; a site gives its own (`--timezone Europe/Oslo`).
DEFAULT_TIMEZONE = "UTC"


class SchedulingError(DxaError):
    """Scheduling cannot start: no server configured, or a bad time zone."""


def server_api_url() -> str | None:
    """The Prefect server's API URL from Prefect's settings (environment or profile)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def require_server() -> str:
    """The API URL, or a one-line error saying how to point dxa at a server."""
    url = server_api_url()
    if not url:
        raise SchedulingError(
            "scheduling needs a Prefect server: run `prefect server start` and "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` "
            "(or use a plain cron line calling `dxa run`)"
        )
    return url


def checked_timezone(name: str) -> str:
    """An IANA time zone name, refused with the reason if the system does not know it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SchedulingError(
            f"unknown time zone {name!r}: give an IANA name such as UTC or Europe/Berlin"
        ) from None
    return name


def ensure_work_pool(name: str = WORK_POOL) -> bool:
    """Create the process work pool `prefect.yaml` deploys to; False if it already exists.

    `prefect deploy` refuses a pool that does not exist, and only a worker's first start
    would create it; creating it here lets deploy come before the worker.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    pool = WorkPoolCreate(
        name=name, type=ProcessWorker.type,
        base_job_template=ProcessWorker.get_default_base_job_template(),
    )
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(pool)
        except ObjectAlreadyExists:
            return False
    return True


def serve_nightly(paths: list[Path], db: Path, *, cron: str, timezone: str,
                  ruleset: str) -> None:
    """Register `dxa-serve` on the server and run its flow runs in this process."""
    from prefect.schedules import Cron

    from pipelines.flows.nightly import registry_flow

    registry_flow.serve(
        name=SERVED_DEPLOYMENT,
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"paths": [str(p.resolve()) for p in paths], "db": str(db.resolve()),
                    "ruleset": ruleset},
    )
