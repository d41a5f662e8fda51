"""Prefect as dxa runs it: analytics off (no first-run notice), one rule for PREFECT_HOME."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from prefect_ci import without_ci_markers

from pipelines.runtime import env

IMPORT_PREFECT = "import prefect"
IMPORT_AS_DXA = "from pipelines.runtime.env import configure_prefect_env\n" \
    "configure_prefect_env()\nimport prefect"


def on_a_terminal(code: str, home: Path) -> str:
    """Run `code` in a fresh Python whose stdout and stderr are a terminal; its output."""
    primary, secondary = pty.openpty()
    environment = without_ci_markers(os.environ)
    environment.pop("DO_NOT_TRACK", None)
    environment["PREFECT_HOME"] = str(home)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=secondary,
        stderr=secondary, env=environment,
    )
    os.close(secondary)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closes when the child exits
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
        process.wait(timeout=120)
    return b"".join(chunks).decode(errors="replace")


def test_the_check_sees_prefects_first_run_notice_without_dxa(tmp_path: Path) -> None:
    """The reproduction: a bare `import prefect` on a terminal prints the notice."""
    output = on_a_terminal(IMPORT_PREFECT, tmp_path / "home")
    assert "telemetry" in output.lower()


def test_dxa_turns_prefects_analytics_off_and_prints_no_notice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    output = on_a_terminal(IMPORT_AS_DXA, home)
    assert "telemetry" not in output.lower()
    assert not (home / ".sdk_telemetry").exists()


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """configure_prefect_env writes os.environ: undo every change after the test."""
    with mock.patch.dict(os.environ):
        yield


@pytest.mark.usefixtures("restored_environment")
def test_prefect_home_is_the_variable_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "site-home"))
    env.configure_prefect_env()
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "site-home")


@pytest.mark.usefixtures("restored_environment")
def test_prefect_home_is_the_users_dot_prefect_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert env.prefect_home() == tmp_path / ".prefect"
    env.configure_prefect_env()
    assert os.environ["PREFECT_HOME"] == str(tmp_path / ".prefect")
