"""Prefect's temporary API server, started early by `dxa` and always stopped."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from exam_rows import REPO, make_row, write_csv

from pipelines.runtime import temporary_api
from pipelines.runtime.temporary_api import PrefectApi, TemporaryServer, prefect_api

APP = "prefect.server.api.server:create_app"


def servers_of(home: Path) -> list[int]:
    """Process ids of Prefect API servers whose PREFECT_HOME is `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours
            continue
        if APP.encode() in cmdline and f"PREFECT_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


class FakeServer:
    """Stands in for the child process: records what the API asked of it."""

    api_url = "http://127.0.0.1:9/api"

    def __init__(self, ready: bool) -> None:
        self.ready = ready
        self.stopped = False

    def wait_ready(self, timeout_s: float = 0.0) -> bool:
        return self.ready

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def no_configured_server() -> Iterator[None]:
    """Prefect's settings as on a machine without a server (the suite's harness, when
    another test started it, names one)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


def current_api_url() -> str | None:
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def test_the_server_answers_its_health_check_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    server = TemporaryServer()
    try:
        assert server.wait_ready()
        with urllib.request.urlopen(f"{server.api_url}/health", timeout=5) as response:  # noqa: S310
            assert response.status == 200
        assert servers_of(tmp_path / "home") == [server.process.pid]
    finally:
        server.stop()
    assert server.process is None
    assert servers_of(tmp_path / "home") == []


@pytest.mark.usefixtures("no_configured_server")
def test_the_flow_is_pointed_at_the_early_server_and_it_is_stopped_after() -> None:
    before = current_api_url()
    fake = FakeServer(ready=True)
    api = PrefectApi(fake)  # type: ignore[arg-type] - the fake has the same methods
    with api.in_use():
        assert current_api_url() == fake.api_url
        from prefect.settings import get_current_settings

        assert get_current_settings().flows.heartbeat_frequency is None  # none to watch
        assert not fake.stopped
    assert fake.stopped
    assert current_api_url() == before


@pytest.mark.usefixtures("no_configured_server")
def test_an_early_server_that_does_not_answer_leaves_prefect_its_own_path() -> None:
    before = current_api_url()
    fake = FakeServer(ready=False)
    with PrefectApi(fake).in_use():  # type: ignore[arg-type]
        assert current_api_url() == before  # Prefect starts its own temporary server
    assert fake.stopped


def test_a_server_named_by_the_settings_wins_over_the_early_one() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    fake = FakeServer(ready=True)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        with PrefectApi(fake).in_use():  # type: ignore[arg-type]
            assert current_api_url() == "http://127.0.0.1:4200/api"
        assert fake.stopped


def heartbeat_frequency() -> int | None:
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency


def test_against_a_lasting_server_heartbeats_are_off_unless_the_site_sets_them() -> None:
    """Nothing watches heartbeats unless the site set up an automation (and then it
    sets their frequency): off by default, the site's own frequency kept."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    lasting = {PREFECT_API_URL: "http://127.0.0.1:4200/api"}
    with temporary_settings(updates=lasting):
        assert heartbeat_frequency() == 180  # Prefect's default
        with PrefectApi(None).in_use():
            assert heartbeat_frequency() is None
            assert current_api_url() == "http://127.0.0.1:4200/api"
        assert heartbeat_frequency() == 180
    asked = {**lasting, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}
    with temporary_settings(updates=asked), PrefectApi(None).in_use():
        assert heartbeat_frequency() == 60


@pytest.mark.parametrize("variable, value", [
    ("PREFECT_API_URL", "http://127.0.0.1:4200/api"),
    ("PREFECT_SERVER_EPHEMERAL_ENABLED", "false"),
])
def test_nothing_is_started_when_the_environment_says_so(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
) -> None:
    monkeypatch.setenv(variable, value)

    def refuse() -> None:
        raise AssertionError("no server may be started")

    monkeypatch.setattr(temporary_api, "TemporaryServer", refuse)
    with prefect_api() as api:
        assert api.server is None


def test_nothing_is_started_when_the_active_profile_names_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`prefect config set PREFECT_API_URL=...` writes the active profile: that server."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    (tmp_path / "profiles.toml").write_text(
        'active = "site"\n\n[profiles.site]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
        '\n[profiles.ephemeral]\n')
    monkeypatch.setattr(temporary_api, "TemporaryServer", lambda: pytest.fail("started"))
    with prefect_api() as api:
        assert api.server is None
    monkeypatch.setenv("PREFECT_PROFILE", "ephemeral")  # another profile: no server named
    assert not temporary_api._profile_names_a_server()


@pytest.mark.usefixtures("no_configured_server")
def test_a_refused_command_stops_the_early_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(RuntimeError, match="refused"), prefect_api() as api:
        assert api.server is not None and api.server.wait_ready()  # exec'd and serving
        assert servers_of(tmp_path / "home") == [api.server.process.pid]
        raise RuntimeError("refused")  # noqa: TRY301 - a command refused mid-way
    assert servers_of(tmp_path / "home") == []


def test_dxa_run_records_its_flow_in_prefect_home_and_leaves_no_server(tmp_path: Path) -> None:
    """The real command on an empty PREFECT_HOME: the flow run is in Prefect's database
    there (the early server used that home), and no server outlives the command."""
    home = tmp_path / "home"
    data = write_csv(tmp_path / "in.csv", [make_row()])
    env = {**os.environ, "PREFECT_HOME": str(home), "TMPDIR": str(tmp_path)}
    env.pop("PREFECT_API_URL", None)
    dxa = Path(sys.executable).parent / "dxa"
    done = subprocess.run(
        [str(dxa), "run", str(data), "--db", str(tmp_path / "r.duckdb")],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert servers_of(home) == []
    with sqlite3.connect(home / "prefect.db") as db:
        runs = db.execute(
            "SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id"
        ).fetchall()
    assert runs == [("dxa-registry-nightly", "COMPLETED")]
    assert not list(tmp_path.glob("dxa-prefect-server-*.log"))  # nothing was written to it


@pytest.mark.parametrize("args, expected", [
    (["run", "in.csv", "--db", "r.duckdb"], True),
    (["reassess", "--db", "r.duckdb", "--ruleset", "bhof-2022"], True),
    (["rulesets", "forget", "bhof-2022@3", "--db", "r.duckdb"], True),
    (["rulesets", "--db", "r.duckdb"], False),
    (["report", "--db", "r.report.duckdb"], False),
    (["run", "--help"], False),
    ([], False),
])
def test_the_console_script_starts_a_server_only_for_commands_with_a_flow(
    args: list[str], expected: bool,
) -> None:
    from pipelines.cli.entry import runs_a_flow

    assert runs_a_flow(args) is expected


def test_a_command_its_parser_refuses_leaves_no_server(tmp_path: Path) -> None:
    """The console script started the server before parsing: stopped at exit all the same."""
    home = tmp_path / "home"
    env = {**os.environ, "PREFECT_HOME": str(home), "TMPDIR": str(tmp_path)}
    env.pop("PREFECT_API_URL", None)
    dxa = Path(sys.executable).parent / "dxa"
    done = subprocess.run(
        [str(dxa), "run", str(tmp_path / "in.csv"), "--db", str(tmp_path / "r.duckdb"),
         "--format", "lunr"],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert done.returncode == 2 and "lunr" in done.stderr
    assert servers_of(home) == []
