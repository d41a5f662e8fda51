"""The registry's schema in a DuckLake: the migrations' end state, without what a lake
cannot hold.

DuckLake (DuckDB 1.5.5) refuses primary keys, UNIQUE and CHECK constraints, indexes,
sequences and user-defined types, and `INSERT OR REPLACE`/`ON CONFLICT` (no keys) and
`UPDATE ... RETURNING`; it holds tables (NOT NULL and defaults kept), views, macros and
comments. The numbered migrations were written for the DuckDB file (keys, an index
added and dropped), so a lake is not migrated by replaying them: the migrations run on
an empty in-memory DuckDB, and the lake is brought to that database's end state: missing
tables created column by column (types, defaults, NOT NULL), missing columns added, every
macro and view replaced, the comments written, and `schema_migrations` told which
versions that covers. The rules the keys enforced in the file are kept by the writers:
the write lock around each check-and-insert (`lake_catalog`), the ledger's own deletes.

Limits: a migration that renames, retypes or drops a column, or rewrites rows, needs a
lake step of its own here (the end-state sync only adds); `sync` refuses a lake whose
columns differ in type from the migrations' end state, naming the column.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

import duckdb

from pipelines.registry import store
from pipelines.registry.comments import apply_comments
from schemas.errors import RegistryError

#: The in-memory reference database's name (where the migrations ran).
REFERENCE = "memory"


class LakeSchemaMismatch(RegistryError):
    """The lake's tables differ from the migrations' end state in a way sync cannot add."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    default: str | None
    not_null: bool

    def ddl(self) -> str:
        text = f'"{self.name}" {self.data_type}'
        if self.default is not None:
            text += f" DEFAULT {self.default}"
        return text + (" NOT NULL" if self.not_null else "")


@dataclass(frozen=True)
class EndState:
    """What the migrations leave: tables with columns, macros, views (in creation order)."""

    tables: dict[str, tuple[Column, ...]]
    macros: tuple[str, ...]
    views: tuple[str, ...]
    versions: tuple[tuple[int, str], ...]


@cache
def end_state() -> EndState:
    """The migrations applied to an empty in-memory DuckDB, read back as DDL (once)."""
    con = duckdb.connect(":memory:")
    try:
        store.migrate(con)
        return EndState(_tables(con), _macros(con), _views(con), tuple(con.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version").fetchall()))
    finally:
        con.close()


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Column, ...]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type, column_default, NOT is_nullable"
        f" FROM duckdb_columns() WHERE database_name = '{REFERENCE}' AND table_name IN"
        f" (SELECT table_name FROM duckdb_tables() WHERE database_name = '{REFERENCE}')"
        " ORDER BY table_name, column_index").fetchall()
    tables: dict[str, list[Column]] = {}
    for table, *column in rows:
        tables.setdefault(table, []).append(Column(*column))
    return {name: tuple(columns) for name, columns in tables.items()}


def _macros(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    rows = con.execute(
        "SELECT function_name, function_type, parameters, macro_definition"
        f" FROM duckdb_functions() WHERE database_name = '{REFERENCE}'"
        " AND function_type IN ('macro', 'table_macro') ORDER BY function_name").fetchall()
    return tuple(
        f"CREATE OR REPLACE MACRO {name}({', '.join(params)}) AS"
        f"{' TABLE' if kind == 'table_macro' else ''} {body}"
        for name, kind, params, body in rows)


def _views(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    rows = con.execute(f"SELECT sql FROM duckdb_views() WHERE database_name = '{REFERENCE}'"
                       " AND NOT internal ORDER BY view_name").fetchall()
    return tuple("CREATE OR REPLACE VIEW" + sql.removeprefix("CREATE VIEW") for (sql,) in rows)


def lake_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The highest migration the lake covers, None when it has no registry tables."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()}
    if "schema_migrations" not in tables:
        if tables:
            raise LakeSchemaMismatch(f"the lake holds other tables ({', '.join(sorted(tables)[:3])}"
                                     "), not a DXA registry; nothing was written")
        return None
    found = con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0]
    return None if found is None else int(found)


def sync(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Inside the caller's transaction: bring the lake (current database) to the end
    state; the migration versions newly covered."""
    state = end_state()
    _sync_tables(con, state)
    _create_in_order(con, state.macros + state.views)
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    added = [(v, n) for v, n in state.versions if v not in done]
    now = dt.datetime.now()
    for version, name in added:
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, now])
    apply_comments(con, tables_only=True)
    return [version for version, _ in added]


def _sync_tables(con: duckdb.DuckDBPyConnection, state: EndState) -> None:
    held: dict[str, dict[str, str]] = {}
    for table, column, data_type in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns()"
            " WHERE database_name = current_database() AND table_name IN (SELECT table_name"
            " FROM duckdb_tables() WHERE database_name = current_database())").fetchall():
        held.setdefault(table, {})[column] = data_type
    for table, columns in state.tables.items():
        if table not in held:
            con.execute(f"CREATE TABLE {table} ({', '.join(c.ddl() for c in columns)})")
            continue
        for column in columns:
            found = held[table].get(column.name)
            if found is None:
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{column.name}" {column.data_type}'
                            + (f" DEFAULT {column.default}" if column.default else ""))
            elif found != column.data_type:
                raise LakeSchemaMismatch(
                    f"the lake's {table}.{column.name} is {found}, the migrations say "
                    f"{column.data_type}: this needs a lake step (lake_schema)")


def _create_in_order(con: duckdb.DuckDBPyConnection, statements: tuple[str, ...]) -> None:
    """Views and table macros bind when created: each after the ones its text names (a
    failed statement would abort the transaction, so the order is worked out, not tried)."""
    named = {_created_name(s): s for s in statements}
    created: set[str] = set()

    def create(name: str) -> None:
        if name in created:
            return
        created.add(name)
        for other in named:
            if other != name and re.search(rf"\b{re.escape(other)}\b", named[name]):
                create(other)
        con.execute(named[name])

    for name in named:
        create(name)


def _created_name(statement: str) -> str:
    """`CREATE OR REPLACE VIEW v AS ...`, `... MACRO m(a) AS ...` -> v, m."""
    rest = statement.removeprefix("CREATE OR REPLACE ").split(maxsplit=1)[1]
    return re.split(r"[\s(]", rest, maxsplit=1)[0].strip('"')
