"""Every table, view, macro and column of the registry says what it holds, in SQL clients.

`pipelines/registry/comments.toml` is the one source; opening the registry for writing
applies it (`COMMENT ON`), and the reporting copy, a copy of the file, carries it. The
tests open a fresh registry the way a run does, publish its copy, and read both as a
SQL client would (`duckdb_tables()`, `duckdb_views()`, `duckdb_columns()`,
`duckdb_functions()`), the copy also with the PyPI 1.5 CLI that SQL clients resemble.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from test_sql_clients import cli

from pipelines.registry.comments import apply_comments, catalog, source
from pipelines.registry.duckdb_file import open_registry

MAIN = "database_name = current_database() AND schema_name = 'main' AND NOT internal"

#: Every object a SQL client lists, with its comment.
OBJECTS = f"""
    SELECT 'table ' || table_name, comment FROM duckdb_tables() WHERE {MAIN}
    UNION ALL SELECT 'view ' || view_name, comment FROM duckdb_views() WHERE {MAIN}
    UNION ALL SELECT 'column ' || table_name || '.' || column_name, comment
              FROM duckdb_columns() WHERE {MAIN}
    UNION ALL SELECT 'macro ' || function_name, comment FROM duckdb_functions()
              WHERE {MAIN} AND function_type IN ('macro', 'table_macro')"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A registry created as a run creates it (migrated on its first open for writing),
    and its reporting copy."""
    db = tmp_path_factory.mktemp("comments") / "registry.duckdb"
    with open_registry(db).writer() as writer:
        copy = writer.publish_reporting_copy()
    return db, copy


def _objects(path: Path) -> dict[str, str | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute(OBJECTS).fetchall())


def test_every_table_view_macro_and_column_has_a_comment(fresh: tuple[Path, Path]) -> None:
    for path in fresh:
        found = _objects(path)
        assert len(found) > 400  # 14 tables, 13 views, 16 macros and their columns
        assert sorted(name for name, text in found.items() if not (text or "").strip()) == []
        assert "patient" in str(found["column exams.patient_id"])
        assert "needs_risk_assessment" in str(found["column assessments.treatment"])
    assert _objects(fresh[0]) == _objects(fresh[1])  # the copy carries every comment


def test_the_source_names_nothing_that_does_not_exist(fresh: tuple[Path, Path]) -> None:
    """No stale entry: each table, view and macro described exists as that kind, each
    column a table or view describes is one of its columns, and each shared column is
    used by some table or view that does not describe it itself."""
    with duckdb.connect(str(fresh[0]), read_only=True) as con:
        held = catalog(con)
    kinds = {"tables": {"TABLE"}, "views": {"VIEW"}, "macros": {"MACRO", "MACRO TABLE"}}
    relation_columns: dict[str, set[str]] = {}
    for kind, name, column in held:
        if kind == "COLUMN":
            relation_columns.setdefault(name, set()).add(column)
    described = source()
    stale = []
    for group, allowed in kinds.items():
        for name, entry in described[group].items():
            if not any((kind, name, "") in held for kind in allowed):
                stale.append(f"{group}.{name}")
            stale += [f"{group}.{name}.columns.{column}" for column in entry.get("columns", {})
                      if column not in relation_columns.get(name, set())]
    for column in described["columns"]:
        users = [name for name, columns in relation_columns.items() if column in columns
                 and column not in _own_columns(described, name)]
        if not users:
            stale.append(f"columns.{column}")
    assert stale == []


def _own_columns(described: dict, relation: str) -> set[str]:
    return {column for group in ("tables", "views")
            for column in described[group].get(relation, {}).get("columns", {})}


def test_a_view_a_migration_replaces_gets_its_comments_back(tmp_path: Path) -> None:
    """`CREATE OR REPLACE VIEW` drops a view's comments; the next open for writing
    restores them, and an up-to-date registry is not written to."""
    db = tmp_path / "registry.duckdb"
    with open_registry(db).writer() as writer:
        con = writer.reading()
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'v_run_history'"
                          ).fetchall()[0][0]
        con.execute(sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
        assert not _objects_of(con)["view v_run_history"]
    with open_registry(db).writer() as writer:
        con = writer.reading()
        assert _objects_of(con)["view v_run_history"].startswith("Runs, newest first")
        assert _objects_of(con)["column v_run_history.seconds"]
        assert apply_comments(con) == 0


def _objects_of(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(con.execute(OBJECTS).fetchall())


def test_an_lts_sql_client_reads_the_copys_comments(fresh: tuple[Path, Path]) -> None:
    """DBeaver and other clients embed DuckDB 1.4; the PyPI 1.5 CLI reads what they read."""
    done = cli(fresh[1], "SELECT comment FROM duckdb_columns() WHERE table_name = 'exams'"
                         " AND column_name = 'patient_id'")
    assert done.returncode == 0, done.stderr
    assert "Registry patient ID" in done.stdout, done.stdout
