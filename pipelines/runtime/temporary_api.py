"""Prefect's temporary API server, started at the beginning of a command, not mid-way.

Without a configured server (`PREFECT_API_URL`), Prefect starts a temporary API server
when the first flow begins: it imports its server package in our process (about 3 s on
the build machine), then starts `uvicorn` on `prefect.server.api.server:create_app` in a
child process and waits until that child has imported the same package again (about
5 s). Both waits came one after the other, after our own imports, and were most of a
small run's time.

This module starts the same server (the same application factory, with the settings
Prefect gives its own temporary server: the UI off, ephemeral services only) as the first
thing a command does, so the child starts while this process imports Prefect, polars and
the pipeline and checks its options. When the flow is about to begin, `in_use()` waits
for the server's health check and points Prefect's settings at it for the flow.

It changes nothing else: the server keeps its database in `PREFECT_HOME`, as Prefect's own
temporary server does; it is stopped when the command ends. The child runs under the
private umask (`pipelines.runtime.privacy`): the database it creates holds every flow
run's parameters (the registry's and the exports' paths), so it is its owner's only.
If a server is configured (the environment's `PREFECT_API_URL`, or a profile's, e.g.
`prefect config set`), that server is used and nothing is started. If the early server
does not answer in time, it is stopped and the flow falls back to Prefect's own temporary
server.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.runtime.env import prefect_home
from pipelines.runtime.privacy import PRIVATE_UMASK

if TYPE_CHECKING:  # Prefect is imported only once a flow is about to run
    from prefect.settings import Settings
    from prefect.settings.legacy import Setting

#: What Prefect's own temporary server is given (see `SubprocessASGIServer` in
#: `prefect.server.api.server`): no UI; the services of an ephemeral server only. And no
#: block-type registration at start: to register them the server first imports every
#: installed Prefect collection (prefect-dask, about 0.5 s of a start), and our flows
#: use no blocks; a lasting server started on the same `PREFECT_HOME` registers them.
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
#: A first start on an empty `PREFECT_HOME` creates Prefect's database: allow for it.
READY_TIMEOUT_S = 120.0
_POLL_S = 0.05


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _site_packages() -> str:
    """The folder Prefect is installed in, found without importing Prefect (1-2 s)."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "Prefect is a dependency"
    return str(Path(spec.origin).parent.parent)


class TemporaryServer:
    """One `uvicorn` child serving Prefect's API on a free local port."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        # the child's own output (uvicorn's start-up errors): a private file, not the screen
        fd, name = tempfile.mkstemp(prefix="dxa-prefect-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self._spawn()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> None:
        self.port = _free_port()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [sys.executable, "-m", "uvicorn",
                 "--app-dir", _site_packages(),
                 "--factory", "prefect.server.api.server:create_app",
                 "--host", "127.0.0.1", "--port", str(self.port),
                 "--log-level", "error", "--lifespan", "on"],
                env={**os.environ, **SERVER_ENV},
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                umask=PRIVATE_UMASK,  # the child only writes Prefect's records: private
            )

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """True once the API answers its health check; False if it exits or times out.

        A child that exits early (another process took the port meanwhile) is started
        again on another port, twice at most.
        """
        deadline = time.monotonic() + timeout_s
        restarts = 2
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                if restarts == 0:
                    return False
                restarts -= 1
                self._spawn()
                continue
            if self._healthy():
                return True
            time.sleep(_POLL_S)
        return False

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:  # noqa: S310 - http on 127.0.0.1
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> None:
        """Stop the child (terminate, then kill after 5 s) and remove its log if empty."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size == 0:
                self.log_path.unlink()


class PrefectApi:
    """The API a command's flows talk to: a configured server, or the early one."""

    def __init__(self, server: TemporaryServer | None) -> None:
        self.server = server

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Run the flow inside this: Prefect's settings point at the early server.

        Waits for the early server to answer (it has been starting meanwhile). With a
        configured server, or when the early one did not come up, Prefect decides which
        server; either way flow-run heartbeats are off unless the site asked for them.
        """
        server, self.server = self.server, None
        from prefect.settings import (  # noqa: PLC0415 - Prefect is imported by now
            PREFECT_API_URL,
            get_current_settings,
            temporary_settings,
        )

        settings = get_current_settings()
        updates = _heartbeats_unless_asked(settings)
        ours = server is not None and not settings.api.url and (
            settings.server.ephemeral.enabled and server.wait_ready())
        if ours:
            updates[PREFECT_API_URL] = server.api_url
        elif server is not None:
            server.stop()  # a profile names a server, or ours failed: Prefect's own path
        try:
            with temporary_settings(updates=updates):
                yield
        finally:
            if ours:
                server.stop()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def _heartbeats_unless_asked(settings: Settings) -> dict[Setting, object]:
    """Flow-run heartbeats off, unless the site set `PREFECT_FLOWS_HEARTBEAT_FREQUENCY`.

    Heartbeats serve one purpose: an automation on a lasting server that marks a flow
    run whose heartbeats stop as crashed. The temporary server ends with the command, and
    a lasting one watches them only once a site has set up that automation, so they are
    for the site to ask for (the environment, a profile, `prefect.toml`). Left on by
    default (Prefect's 180 s), the heartbeat thread, asleep in 1-s steps, held up the end
    of every flow by up to a second.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY  # noqa: PLC0415

    if "heartbeat_frequency" in settings.flows.model_fields_set:
        return {}
    return {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}


def _profile_names_a_server() -> bool:
    """Whether the active Prefect profile sets `PREFECT_API_URL` (`prefect config set`).

    Read from Prefect's profiles file (`PREFECT_PROFILES_PATH`, else
    `$PREFECT_HOME/profiles.toml`) without importing Prefect, so that a site with a server
    does not start a temporary one for nothing. Other places a URL can come from (a
    `prefect.toml`, `.env`) are caught later by `PrefectApi.in_use`, from Prefect's own
    settings.
    """
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    profile = profiles.get("profiles", {}).get(active, {})
    return isinstance(profile, dict) and bool(profile.get("PREFECT_API_URL"))


def _wanted() -> bool:
    """No server named by the environment or the active profile, ephemeral mode allowed."""
    off = {"0", "false", "no"}
    return not os.environ.get("PREFECT_API_URL") and not _profile_names_a_server() and all(
        os.environ.get(name, "true").lower() not in off
        for name in ("PREFECT_SERVER_EPHEMERAL_ENABLED", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"))


#: The server the console script started before importing the CLI (`start_early`).
_early: TemporaryServer | None = None


def start_early() -> None:
    """Start the server now, before the CLI's own imports, for `prefect_api` to take over.

    The console script calls this for the commands that run a flow (`pipelines.cli.entry`).
    A server nobody took over (the command was refused by its parser) is stopped at exit.
    """
    global _early
    if _early is None and _wanted():
        _early = TemporaryServer()
        atexit.register(_stop_unclaimed)


def _stop_unclaimed() -> None:
    global _early
    if _early is not None:
        _early.stop()
        _early = None


@contextmanager
def prefect_api() -> Iterator[PrefectApi]:
    """The early server, or one started now unless a server is named; stopped at the end.

    Call after `pipelines.runtime.env.configure_prefect_env` (the child inherits that
    environment: `PREFECT_HOME`, analytics off, logs routed to a private file).
    """
    global _early
    server, _early = _early, None
    if server is None and _wanted():
        server = TemporaryServer()
    api = PrefectApi(server)
    try:
        yield api
    finally:
        api.close()
