"""A real PostgreSQL server for the tests of the DuckLake registry (its catalog).

A module of its own (like lock_holder) so that every test folder can import it. The
server is Debian's `postgresql` (scripts/ensure-postgresql.sh installs it): initialised
in a private temporary folder, started on a free port with trust authentication on
127.0.0.1 only, and stopped and removed when the test session ends. `initdb` and `pg_ctl`
refuse to run as root, so as root they run as the `postgres` user (`runuser`), which
then owns the folder. Each test gets a database of its own (`fresh_database`).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The account the server runs as when the tests run as root.
SERVER_USER = "postgres"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens and how to reach it."""

    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"

    def conninfo(self, dbname: str) -> str:
        """libpq's key=value connection string of one database."""
        return f"dbname={dbname} host={self.host} port={self.port} user={self.user}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through psql (the server's own client); its output."""
        done = subprocess.run(
            [_binary("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.host,
             "-p", str(self.port), "-U", self.user, "-d", dbname, "-c", sql],
            capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def fresh_database(self) -> str:
        """A new empty database; its name."""
        name = f"dxa_test_{os.getpid()}_{next(_numbers)}"
        self.psql(f"CREATE DATABASE {name}")
        return name


def _binary(name: str) -> str | None:
    """A PostgreSQL program: on PATH, else in Debian's versioned folder (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    versioned = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                       key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return versioned[0] if versioned else None


def missing_reason() -> str | None:
    """Why no server can be started here, or None."""
    for name in ("initdb", "pg_ctl", "psql"):
        if _binary(name) is None:
            return (f"PostgreSQL's {name} is not installed (apt-get install postgresql; "
                    "scripts/ensure-postgresql.sh installs it)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing: initdb refuses root and cannot run as postgres"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """`command` as the postgres user when we are root (initdb and pg_ctl refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *command]
    return command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}")


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Initialise, start, yield, then stop and remove a server in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="dxa-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER, SERVER_USER)
    data = folder / "data"
    port = _free_port()
    pg_ctl = str(_binary("pg_ctl"))
    try:
        _run([str(_binary("initdb")), "-D", str(data), "-A", "trust", "-U", "postgres",
              "--no-sync"])
        _run([pg_ctl, "-D", str(data), "-w", "-l", str(folder / "server.log"), "-o",
              f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
              "start"])
        try:
            yield PostgresServer(port)
        finally:
            _run([pg_ctl, "-D", str(data), "-w", "-m", "fast", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def require_postgres() -> None:
    """Skip with the reason when PostgreSQL is missing; under CI, fail instead."""
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
