"""`dxa serve` and `prefect.yaml` without a server: the API URL from Prefect's settings,
the time zone checked, two deployments that never share a name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect_ci import without_ci_markers

from pipelines.flows.scheduling import (
    DEFAULT_TIMEZONE,
    SERVED_DEPLOYMENT,
    WORK_POOL,
    SchedulingError,
    checked_timezone,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in without_ci_markers(os.environ).items()
           if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    return env


def serve(env: dict[str, str], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's own console script
        [str(BIN / "dxa"), "serve", str(tmp_path), "--db", str(tmp_path / "r.duckdb"), *extra],
        capture_output=True, text=True, timeout=180, env=env, cwd=REPO, check=False,
    )


def test_serve_reads_the_api_url_saved_with_prefect_config_set(tmp_path: Path) -> None:
    """The server's banner says `prefect config set PREFECT_API_URL=...`: that must do."""
    env = fresh_env(tmp_path / "home")
    saved = subprocess.run(  # noqa: S603
        [str(BIN / "prefect"), "config", "set", "PREFECT_API_URL=http://127.0.0.1:9/api"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert saved.returncode == 0, saved.stderr
    # past the server check, the next one (the time zone) speaks: no server is contacted
    done = serve(env, tmp_path, "--timezone", "Nowhere/Atlantis")
    assert done.returncode == 1
    assert "unknown time zone 'Nowhere/Atlantis'" in done.stderr
    assert "needs a Prefect server" not in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_without_any_server_configured_says_how_to_set_one(tmp_path: Path) -> None:
    done = serve(fresh_env(tmp_path / "home"), tmp_path)
    assert done.returncode == 1
    assert "prefect config set PREFECT_API_URL=" in done.stderr
    assert "Traceback" not in done.stderr


def test_time_zone_names_are_checked() -> None:
    assert checked_timezone("Europe/Berlin") == "Europe/Berlin"
    assert checked_timezone(DEFAULT_TIMEZONE) == "UTC"
    with pytest.raises(SchedulingError, match="unknown time zone"):
        checked_timezone("Mars/Olympus")


def test_prefect_yaml_and_dxa_serve_register_different_deployments() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = config["deployments"]
    assert deployment["name"] != SERVED_DEPLOYMENT
    assert deployment["work_pool"]["name"] == WORK_POOL
    assert deployment["schedules"][0]["timezone"] == DEFAULT_TIMEZONE
