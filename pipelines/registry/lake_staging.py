"""Where a large input's batches wait before they enter a DuckLake registry, and the copy
of a lake into a DuckDB file (a what-if).

Why a local staging file, as for the DuckDB file: `load_input` commits each batch of a
large input on its own and then moves the whole file in one transaction, so the file is
loaded whole or not at all. The batches wait in a private DuckDB file in a temporary
folder of the writer's machine (never on the shared data path); the move is one
`INSERT ... SELECT` into the lake, which writes Parquet as it goes. The writer holds the
lake's write lock from the first batch to the move, so no other site's commit slips
between a batch's overlap check and the move.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.registry.staging import STAGING, TableSet, create_stage
from pipelines.registry.store import sql_string
from pipelines.runtime.privacy import private_files


@contextmanager
def staged(con: duckdb.DuckDBPyConnection) -> Iterator[TableSet]:
    """A fresh staging file attached to `con` (the lake current), removed on exit."""
    folder = Path(tempfile.mkdtemp(prefix="dxa-lake-staging-"))  # 0700
    try:
        with private_files():
            con.execute(f"ATTACH {sql_string(str(folder / 'staging.duckdb'))} AS {STAGING}")
        try:
            yield create_stage(con)
        finally:
            con.execute(f"DETACH {STAGING}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_tables(con: duckdb.DuckDBPyConnection, source: str, tables: list[str]) -> None:
    """Inside the caller's transaction: replace each table's rows of the current database
    with those of the attached `source` (a lake copied into a migrated DuckDB file)."""
    for table in tables:
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source}.{table}")
