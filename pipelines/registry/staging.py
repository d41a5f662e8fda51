"""Where a large input's batches wait until the whole file can be made visible at once.

DuckDB keeps the uncommitted rows of a transaction in memory; a ten-million-exam file
loaded in one transaction needs ~14 GB. So a file read in batches is written batch by
batch (each committed) into a staging database beside the registry, then moved into the
registry in ONE transaction (`INSERT ... SELECT`, which DuckDB writes to disk as it goes:
~2.6 GB for 10M exams). The registry still gains all of a file's rows or none; a crash
leaves only a staging file, removed by the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.registry.interface import BatchWrite
from pipelines.registry.store import arrow_of, insert_frame, sql_string
from pipelines.runtime.privacy import private_files
from transforms.serial import SERIAL_FLAG_CODES

#: Tables a batch writes (the registry's names).
LOADED_TABLES = ("exams", "assessments", "flags", "bmd_changes", "quarantine",
                 "survey_design", "t_score_sources")
STAGING = "staging"


@dataclass(frozen=True)
class TableSet:
    """The physical tables a batch writes to, and where earlier exams are read from.

    `history`: exams tables whose rows count as the registry's history: the registry's
    own, plus the staging table holding earlier batches of this file.
    `rejudged`: a table collecting registry exams judged again, or None to apply at once.
    """

    prefix: str
    history: tuple[str, ...]
    rejudged: str | None = None

    def __getitem__(self, table: str) -> str:
        return f"{self.prefix}{table}"


#: The registry's own tables: what a file loaded in one transaction writes to.
REGISTRY = TableSet(prefix="", history=("exams",))


def database_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file of the connection's main database."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    assert rows and rows[0][0], "the registry must be a file"
    return Path(rows[0][0])


def staging_file(con: duckdb.DuckDBPyConnection) -> Path:
    registry = database_path(con)
    return registry.with_name(f".{registry.stem}.staging.duckdb")


def remove_stale_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Delete a staging file left by a run that broke off (we hold the registry lock)."""
    path = staging_file(con)
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)


def create_stage(con: duckdb.DuckDBPyConnection) -> TableSet:
    """In the attached staging database: empty copies of the loaded tables, and the ids
    of registry exams judged again (serial verdicts; decisions, with their ruleset)."""
    for table in LOADED_TABLES:
        con.execute(f"CREATE TABLE {STAGING}.{table} AS SELECT * FROM {table} LIMIT 0")
    con.execute(f"CREATE TABLE {STAGING}.rejudged (exam_id VARCHAR)")
    con.execute(f"CREATE TABLE {STAGING}.reassessed (exam_id VARCHAR, ruleset VARCHAR)")
    return TableSet(prefix=f"{STAGING}.", history=("exams", f"{STAGING}.exams"),
                    rejudged=f"{STAGING}.rejudged")


@contextmanager
def staged(con: duckdb.DuckDBPyConnection, key: str | None = None) -> Iterator[TableSet]:
    """A fresh staging database attached to `con`, removed again on exit; encrypted with
    `key` when the registry is (the rows it holds are the registry's to be)."""
    remove_stale_staging(con)
    path = staging_file(con)
    options = "" if key is None else f" (ENCRYPTION_KEY {sql_string(key)})"
    with private_files():  # the staging file holds the patient rows being loaded: 0600
        con.execute(f"ATTACH {sql_string(str(path))} AS {STAGING}{options}")
    try:
        yield create_stage(con)
    finally:
        con.execute(f"DETACH {STAGING}")
        remove_stale_staging(con)


def forget_verdicts(con: duckdb.DuckDBPyConnection, tables: TableSet, exam_ids: str) -> None:
    """Delete the change verdicts and serial flags of the exams `exam_ids` (a query)."""
    codes = ", ".join(f"'{c}'" for c in SERIAL_FLAG_CODES)
    con.execute(f"DELETE FROM {tables['bmd_changes']} WHERE exam_id IN ({exam_ids})")
    con.execute(
        f"DELETE FROM {tables['flags']} WHERE code IN ({codes}) AND exam_id IN ({exam_ids})"
    )


def forget_decisions(con: duckdb.DuckDBPyConnection, tables: TableSet, pairs: str) -> None:
    """Delete the assessments and the ruleset's flags of the (exam_id, ruleset) `pairs`
    (a query): exams judged again because their history changed."""
    for table in ("assessments", "flags"):
        con.execute(
            f"DELETE FROM {tables[table]} t WHERE EXISTS (SELECT 1 FROM ({pairs}) p"
            " WHERE p.exam_id = t.exam_id AND p.ruleset = t.ruleset)"
        )


def move_staged(con: duckdb.DuckDBPyConnection, stage: TableSet) -> None:
    """Inside the caller's transaction: replace re-judged verdicts and decisions, copy
    every table."""
    forget_verdicts(con, REGISTRY, f"SELECT exam_id FROM {stage.rejudged}")
    forget_decisions(con, REGISTRY, f"SELECT exam_id, ruleset FROM {STAGING}.reassessed")
    for table in LOADED_TABLES:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {stage[table]}")


def _replace_earlier(con: duckdb.DuckDBPyConnection, tables: TableSet, judged: pl.DataFrame,
                     forget: Callable[[duckdb.DuckDBPyConnection, TableSet, str], None],
                     stage_table: str) -> None:
    """Drop what the exams of `judged` held before they were judged again (`forget`, given
    a query of those rows): serial verdicts, or a ruleset's decisions.

    Staged loads also note the rows in `stage_table`, so that the registry's own are
    replaced when the file moves in.
    """
    if judged.height == 0:
        return
    con.register("judged_again", arrow_of(judged))
    try:
        rows = f"SELECT {', '.join(judged.columns)} FROM judged_again"
        forget(con, tables, rows)
        if tables.rejudged:
            con.execute(f"INSERT INTO {STAGING}.{stage_table} {rows}")
    finally:
        con.unregister("judged_again")


def write_batch(con: duckdb.DuckDBPyConnection, rows: BatchWrite, tables: TableSet) -> None:
    """Inside the caller's transaction: replace re-judged verdicts, append every frame.

    Frames are written in `LOADED_TABLES` order; a frame for a table outside it is a bug
    (the staging database would not hold it) and is refused before anything is written.
    """
    unknown = set(rows.frames) - set(LOADED_TABLES)
    if unknown:
        raise ValueError(f"no such loaded table: {', '.join(sorted(unknown))}")
    _replace_earlier(con, tables, rows.rejudged.to_frame("exam_id"), forget_verdicts,
                     "rejudged")
    _replace_earlier(con, tables, rows.reassessed.select("exam_id", "ruleset"),
                     forget_decisions, "reassessed")
    for table in LOADED_TABLES:
        frame = rows.frames.get(table)
        if frame is not None:
            insert_frame(con, tables[table], frame)
