"""Where per-file compute runs: threads in this process, or a Dask cluster.

Reading, parsing and validating an input is independent per file, so it can fan out; the
DuckDB registry has a single writer, so loading always stays in the flow's own process.
A registry that outgrows one machine points `--dask` at a Dask scheduler (prefect-dask).
"""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner


def task_runner_for(dask: str | None, workers: int = 2):  # noqa: ANN201 - Prefect runner
    """`None`: a thread pool; `"local"`: a local Dask cluster; else a scheduler address."""
    if dask is None:
        return ThreadPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if dask == "local":
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                            "dashboard_address": None},
        )
    return DaskTaskRunner(address=dask)
