"""The derived tables' shapes (`schemas.tables`) are the migrated registry's columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.registry.duckdb_file import DuckDBFileRegistry
from schemas.tables import TABLES

#: DuckDB's type name of each polars type the shapes use.
DUCKDB_TYPES = {pl.String(): "VARCHAR", pl.Float64(): "DOUBLE", pl.Boolean(): "BOOLEAN",
                pl.Int32(): "INTEGER", pl.Int64(): "BIGINT"}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_each_shape_is_the_migrated_table_without_run_id(tmp_path: Path, table: str) -> None:
    registry = DuckDBFileRegistry(tmp_path / "r.duckdb")
    with registry.writer() as writer:
        migrated = writer.reading().execute(
            "SELECT column_name, data_type FROM duckdb_columns()"
            " WHERE table_name = ? AND database_name = current_database()"
            " ORDER BY column_index", [table]).fetchall()
    shape = [(name, DUCKDB_TYPES[dtype]) for name, dtype in TABLES[table].items()]
    assert sorted(c for c in migrated if c[0] != "run_id") == sorted(shape)
    assert ("run_id", "VARCHAR") in migrated
