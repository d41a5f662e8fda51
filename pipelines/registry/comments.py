"""The registry's SQL documentation, applied from one source: `comments.toml` beside this.

SQL clients (DBeaver, the DuckDB CLI's `.schema`, `duckdb_columns()`) show a table's,
view's, macro's and column's `COMMENT`. Every one of them is described once, in
`comments.toml`; `apply_comments` writes them with `COMMENT ON` after the migrations,
each time the registry is opened for writing, so the reporting copy (a copy of the file)
carries them too. A migration that replaces a view (`CREATE OR REPLACE`) drops its
comments: the next open for writing puts them back. Only comments that differ from the
file's are written, so an up-to-date registry is not touched.

Not a numbered migration: the comments would then be frozen in the migration that wrote
them, and a later migration's view would lose them for good.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

import duckdb

#: (kind, object, column or "") -> text; kind as `COMMENT ON` spells it.
Comments = dict[tuple[str, str, str], str]

_MAIN = "database_name = current_database() AND schema_name = 'main' AND NOT internal"


@cache
def source() -> Mapping[str, dict]:
    """`comments.toml`: `columns`, and `tables`, `views`, `macros` by name."""
    text = resources.files("pipelines.registry").joinpath("comments.toml").read_text(
        encoding="utf-8")
    return tomllib.loads(text)


def column_text(relation: str, column: str) -> str | None:
    """A column's description: its table's or view's own, else the shared one by name."""
    found = source()
    for group in ("tables", "views"):
        own = found[group].get(relation, {}).get("columns", {})
        if column in own:
            return own[column]
    return found["columns"].get(column)


def catalog(con: duckdb.DuckDBPyConnection) -> Comments:
    """Every table, view, macro and column of the main database, with its comment now
    (`""` where it has none)."""
    rows = con.execute(f"""
        SELECT 'TABLE', table_name, '', comment FROM duckdb_tables() WHERE {_MAIN}
        UNION ALL SELECT 'VIEW', view_name, '', comment FROM duckdb_views() WHERE {_MAIN}
        UNION ALL SELECT 'COLUMN', table_name, column_name, comment FROM duckdb_columns()
                  WHERE {_MAIN}
        UNION ALL SELECT CASE function_type WHEN 'macro' THEN 'MACRO' ELSE 'MACRO TABLE' END,
                         function_name, '', comment FROM duckdb_functions()
                  WHERE {_MAIN} AND function_type IN ('macro', 'table_macro')""").fetchall()
    return {(kind, name, column): text or "" for kind, name, column, text in rows}


def _described(kind: str, name: str, column: str) -> str | None:
    if kind == "COLUMN":
        return column_text(name, column)
    group = {"TABLE": "tables", "VIEW": "views"}.get(kind, "macros")
    return source()[group].get(name, {}).get("description")


def wanted(con: duckdb.DuckDBPyConnection) -> Comments:
    """The comments `comments.toml` gives the objects this registry holds and that differ
    from theirs now."""
    changed: Comments = {}
    for key, now in catalog(con).items():
        text = _described(*key)
        if text is not None and text != now:
            changed[key] = text
    return changed


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _statement(kind: str, name: str, column: str, text: str) -> str:
    target = f"{_quoted(name)}.{_quoted(column)}" if kind == "COLUMN" else _quoted(name)
    return f"COMMENT ON {kind} {target} IS '{text.replace(chr(39), chr(39) * 2)}'"


def apply_comments(con: duckdb.DuckDBPyConnection, *, tables_only: bool = False) -> int:
    """Write every comment that differs (inside the caller's transaction: `migrate`);
    the number written. `tables_only`: on tables and their columns only (a DuckLake holds
    no comment on a view, a view's column or a macro)."""
    changed = wanted(con)
    if tables_only:
        tables = {name for kind, name, _ in catalog(con) if kind == "TABLE"}
        changed = {k: t for k, t in changed.items() if k[0] in ("TABLE", "COLUMN")
                   and k[1] in tables}
    for key, text in changed.items():
        con.execute(_statement(*key, text))
    return len(changed)
