"""Temporary tables and views a reader works in, and query results copied out as Parquet.

Why in the registry's room: every statement that creates, drops or copies lives with the
registry's own SQL, so a reader never holds one. A scratch table lives in the connection's
`temp` schema (a read-only connection may hold one) and is dropped when the block ends,
also when the block fails half-way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.registry.staging import sql_string


@contextmanager
def scratch(con: duckdb.DuckDBPyConnection, name: str, select_sql: str,
            params: Mapping[str, object] | list | None = None, *,
            as_view: bool = False) -> Iterator[str]:
    """`name` holds `select_sql`'s rows (or is a view over it) until the block ends."""
    kind = "VIEW" if as_view else "TABLE"
    try:
        con.execute(f"CREATE OR REPLACE TEMP {kind} {name} AS {select_sql}", params)
        yield name
    finally:
        con.execute(f"DROP {kind} IF EXISTS temp.{name}")


def copy_to_parquet(con: duckdb.DuckDBPyConnection, select_sql: str, target: Path,
                    params: Mapping[str, object] | None = None,
                    metadata: Mapping[str, str] | None = None) -> None:
    """Write a query's rows to a Parquet file (`metadata`: key-value pairs in its footer)."""
    options = "FORMAT parquet"
    if metadata:
        pairs = ", ".join(f"{key}: {sql_string(value)}" for key, value in metadata.items())
        options += f", KV_METADATA {{{pairs}}}"
    con.execute(f"COPY ({select_sql}) TO {sql_string(str(target))} ({options})", params)
