"""The Prefect server route, end to end, exactly as the README's Scheduling section runs it.

A real `prefect server start` on 127.0.0.1 (own PREFECT_HOME, a free port, the API URL
saved with `prefect config set` as the server's banner says), then `dxa work-pool`,
`prefect deploy --all` with the project's `prefect.yaml`, a worker, and `dxa serve`; one
run of each deployment must end COMPLETED with the rows in its DuckDB file. Every process
is started in its own process group and stopped at the end, also when the test fails.
Run it alone with `./scripts/test.sh -m server`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from prefect_ci import without_ci_markers
from server_processes import BIN, Processes, api_get, free_port, wait_for

pytestmark = pytest.mark.server

FLOW = "dxa-registry-nightly"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERVER_START_S = 240
RUN_S = 420


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Processes, str]]:
    """A Prefect server of this test's own, and the runner of the commands that use it."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {k: v for k, v in without_ci_markers(os.environ).items()
           if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = Processes(env, logs)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    saved = processes.run(["prefect", "config", "set", f"PREFECT_API_URL={api}"])
    assert saved.returncode == 0, saved.stderr
    try:
        processes.start("server", ["prefect", "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)])
        wait_for(lambda: api_get(f"{api}/health") is True, SERVER_START_S,
                 f"the Prefect server on port {port}\n{processes.log_tail('server')}")
        yield processes, api
    finally:
        processes.stop_all()


def exports(folder: Path, prefix: str, rows: int) -> Path:
    folder.mkdir()
    write_csv(folder / "night.csv", [make_row(exam_id=f"{prefix}{i}") for i in range(rows)])
    return folder


def trigger(processes: Processes, deployment: str, params: dict[str, object] | None) -> str:
    """`prefect deployment run FLOW/DEPLOYMENT`; the id of the flow run it created."""
    argv = ["prefect", "deployment", "run", f"{FLOW}/{deployment}"]
    if params:
        argv += ["--params", json.dumps(params)]
    started = processes.run(argv)
    assert started.returncode == 0, started.stdout + started.stderr
    found = UUID.search(started.stdout)
    assert found, started.stdout
    return found.group(0)


def final_state(api: str, flow_run: str, processes: Processes, log: str) -> str:
    def finished() -> str | None:
        state = api_get(f"{api}/flow_runs/{flow_run}")["state"]  # type: ignore[index]
        kind = state["type"] if state else None
        return kind if kind in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None

    return str(wait_for(finished, RUN_S,
                        f"flow run {flow_run} to finish\n{processes.log_tail(log)}",
                        interval=2.0))


def exam_count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM exams").fetchall()[0][0])


def deployment_exists(api: str, name: str) -> bool:
    try:
        return bool(api_get(f"{api}/deployments/name/{FLOW}/{name}"))
    except OSError:  # 404 until it is registered
        return False


def test_deploy_with_prefect_yaml_and_with_dxa_serve_both_complete(
    server: tuple[Processes, str], tmp_path: Path
) -> None:
    processes, api = server
    pool = processes.run(["dxa", "work-pool"])
    assert pool.returncode == 0, pool.stdout + pool.stderr
    assert "work pool dxa created" in pool.stdout

    deployed = processes.run(["prefect", "--no-prompt", "deploy", "--all"], timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    processes.start("worker", ["prefect", "worker", "start", "--pool", "dxa"])

    nightly_in = exports(tmp_path / "nightly-in", "N", 4)
    nightly_db = tmp_path / "nightly.duckdb"
    served_in = exports(tmp_path / "served-in", "S", 3)
    served_db = tmp_path / "served.duckdb"
    processes.start("serve", ["dxa", "serve", str(served_in), "--db", str(served_db),
                              "--timezone", "Europe/Berlin"])
    wait_for(lambda: deployment_exists(api, "dxa-serve"), SERVER_START_S,
             f"dxa serve to register dxa-serve\n{processes.log_tail('serve')}")

    nightly = trigger(processes, "dxa-nightly",
                      {"paths": [str(nightly_in)], "db": str(nightly_db)})
    served = trigger(processes, "dxa-serve", None)

    assert final_state(api, nightly, processes, "worker") == "COMPLETED"
    assert final_state(api, served, processes, "serve") == "COMPLETED"
    assert exam_count(nightly_db) == 4
    assert exam_count(served_db) == 3

    # Two deployments, neither overwrote the other; the cron schedules keep their zones.
    schedules = {
        name: api_get(f"{api}/deployments/name/{FLOW}/{name}")["schedules"]  # type: ignore[index]
        for name in ("dxa-nightly", "dxa-serve")
    }
    assert schedules["dxa-nightly"][0]["schedule"]["timezone"] == "UTC"
    assert schedules["dxa-serve"][0]["schedule"]["timezone"] == "Europe/Berlin"
    assert schedules["dxa-serve"][0]["schedule"]["cron"] == "0 2 * * *"
