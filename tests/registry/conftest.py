"""Fixtures of the registry tests: one PostgreSQL server per session for the DuckLake
registry's catalog, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_server import PostgresServer, require_postgres, running_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server, started once for the session and removed at its end."""
    require_postgres()
    with running_server() as server:
        yield server
