"""How every reader opens the registry: read-only, through the registry interface.

One place for the rule, so that a locked registry, a path that is not a registry and a
missing file read the same in `dxa report`, `dxa export`, `dxa compare`, `dxa prevalence`
and `dxa rulesets --db`; each reader gets the refusal as its own error class (one line,
exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.registry.duckdb_file import RegistryUnreadable
from pipelines.registry.identify import NotARegistry
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S
from pipelines.registry.opening import open_registry
from schemas.errors import DxaError, RegistryError


@contextmanager
def reading(db: Path, lock_timeout_s: float | None = None,
            error: type[DxaError] = RegistryError) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the registry (or its reporting copy) at `db`."""
    timeout = READ_LOCK_TIMEOUT_S if lock_timeout_s is None else lock_timeout_s
    try:
        opened = open_registry(db).reader(timeout)
        con = opened.__enter__()
    except (RegistryUnreadable, NotARegistry) as exc:
        raise error(str(exc)) from None
    try:
        yield con
    finally:
        opened.__exit__(None, None, None)


def source_encrypted(con: duckdb.DuckDBPyConnection) -> str:
    """"yes" or "no": whether the registry a reader opened is encrypted at rest, for the
    description every export carries (a list written from an encrypted registry is no
    longer protected by its encryption: the reader of the list should know)."""
    rows = con.execute("SELECT encrypted FROM duckdb_databases()"
                       " WHERE database_name = current_database()").fetchall()
    return "yes" if rows and rows[0][0] else "no"
