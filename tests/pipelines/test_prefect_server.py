"""The Prefect server route, end to end, exactly as the README's Scheduling section runs it.

A real `prefect server start` on 127.0.0.1 (own PREFECT_HOME, a free port, the API URL
saved with `prefect config set` as the server's banner says), then `dxa work-pool`,
`prefect deploy --all` with the project's `prefect.yaml`, a worker, and `dxa serve`; one
run of each deployment must end COMPLETED with the rows in its DuckDB file. A night with
failed inputs must end FAILED, its message naming them, and the README's alert recipe
(`prefect-automation.yaml`) must deliver that message to a webhook. Every process is
started in its own process group and stopped at the end, also when the test fails.
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
from server_processes import BIN, REPO, Processes, Webhook, api_get, free_port, wait_for

pytestmark = pytest.mark.server

FLOW = "dxa-registry-nightly"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERVER_START_S = 240
RUN_S = 420
ALERT_S = 120
AUTOMATION = REPO / "prefect-automation.yaml"
PLACEHOLDER = "PUT-YOUR-NOTIFICATION-BLOCK-ID-HERE"
#: The README's notification block, pointed at this test's webhook (on 127.0.0.1, which
#: Prefect refuses unless told: a site's in-house webhook needs the same switch).
SAVE_BLOCK = (
    "import sys\n"
    "from prefect.blocks.notifications import CustomWebhookNotificationBlock as Hook\n"
    "Hook(name='dxa', url=sys.argv[1], allow_private_urls=True,\n"
    "     json_data={'text': '{{subject}}\\n{{body}}'}).save('dxa-alerts')\n"
)


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


def deploy_with_a_worker(processes: Processes) -> None:
    """Steps 3-5 of the README: the work pool, `prefect deploy --all`, a worker."""
    pool = processes.run(["dxa", "work-pool"])
    assert pool.returncode == 0, pool.stdout + pool.stderr
    assert "work pool dxa created" in pool.stdout

    deployed = processes.run(["prefect", "--no-prompt", "deploy", "--all"], timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    processes.start("worker", ["prefect", "worker", "start", "--pool", "dxa"])


def test_deploy_with_prefect_yaml_and_with_dxa_serve_both_complete(
    server: tuple[Processes, str], tmp_path: Path
) -> None:
    processes, api = server
    deploy_with_a_worker(processes)

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


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()


def create_the_automation(processes: Processes, folder: Path, url: str) -> None:
    """The README's alert recipe: a notification block (a webhook at `url`), its id in
    the file, the automation."""
    saved = processes.run(["python", "-c", SAVE_BLOCK, url])
    assert saved.returncode == 0, saved.stdout + saved.stderr
    inspected = processes.run(["prefect", "block", "inspect", "custom-webhook/dxa-alerts",
                               "--output", "json"])
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    edited = folder / AUTOMATION.name
    edited.write_text(AUTOMATION.read_text(encoding="utf-8").replace(
        PLACEHOLDER, json.loads(inspected.stdout)["id"]), encoding="utf-8")
    created = processes.run(["prefect", "automation", "create", "--from-file", str(edited)])
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Created automation 'dxa-registry-nightly failed'" in created.stdout


def failing_night(folder: Path) -> Path:
    """One good export and two that fail as a whole (a required column missing)."""
    folder.mkdir()
    write_csv(folder / "good.csv", [make_row(exam_id="SECRET-E1", patient_id="SECRET-P1")])
    for i in range(2):
        (folder / f"broken-{i}.csv").write_text("exam_id,patient_id\nSECRET-X,SECRET-Y\n")
    return folder


def test_a_night_with_failed_inputs_ends_failed_and_the_automation_alerts(
    server: tuple[Processes, str], webhook: Webhook, tmp_path: Path
) -> None:
    processes, api = server
    # as shipped, the file is refused: its block id is a placeholder, nothing is created
    unedited = processes.run(["prefect", "automation", "create", "--from-file",
                              str(AUTOMATION)])
    assert unedited.returncode == 1, unedited.stdout + unedited.stderr
    assert "block_document_id" in unedited.stdout
    create_the_automation(processes, tmp_path, webhook.url)
    deploy_with_a_worker(processes)

    db = tmp_path / "nightly.duckdb"
    night = trigger(processes, "dxa-nightly",
                    {"paths": [str(failing_night(tmp_path / "in"))], "db": str(db)})
    assert final_state(api, night, processes, "worker") == "FAILED"
    message = api_get(f"{api}/flow_runs/{night}")["state"]["message"]  # type: ignore[index]
    assert re.fullmatch(r"2 of 3 inputs failed: broken-0\.csv, broken-1\.csv \(run \S+\)",
                        message), message
    assert exam_count(db) == 1  # the registry keeps what loaded

    def alert() -> str | None:
        return next((b for b in webhook.bodies if "inputs failed" in b), None)

    body = str(wait_for(alert, ALERT_S,
                        f"the automation's alert\n{processes.log_tail('server')}"))
    text = json.loads(body)["text"]
    assert text.startswith("DXA registry: flow run ")
    assert f"ended Failed: {message}" in text
    assert "SECRET" not in text
