"""DuckDB store: migrations, atomic per-file loads, bounded wait on a locked registry."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv

from pipelines import load as load_module
from pipelines.load import load_input
from pipelines.prepare import prepare_input
from pipelines.rules_bridge import decider_for, resolve_ruleset
from pipelines.store import RegistryLocked, connect, migrate, registry
from sources.detect import discover
from transforms.precision import load_precision


def test_migrations_are_numbered_recorded_and_applied_once(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with registry(db) as con:
        versions = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        assert versions and versions[0][0] == 1
        assert migrate(con) == []  # nothing left to apply


def _prepared(tmp_path: Path):
    path = write_csv(tmp_path / "f.csv", [make_row(exam_id="A"), make_row(exam_id="B")])
    inputs, _ = discover([path])
    return prepare_input(inputs[0])


def test_a_file_loads_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "r.duckdb"
    prepared = _prepared(tmp_path)
    decide = decider_for(resolve_ruleset("core-2025"))
    real_insert = load_module.insert_frame

    def failing_insert(con, table, frame):
        if table == "flags":
            raise RuntimeError("disk full")
        return real_insert(con, table, frame)

    monkeypatch.setattr(load_module, "insert_frame", failing_insert)
    with registry(db) as con, pytest.raises(RuntimeError, match="disk full"):
        load_input(con, "run-1", "core-2025@1", prepared, decide, load_precision())
    with registry(db) as con:
        for table in ("exams", "measurements", "assessments", "source_files", "run_files"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    monkeypatch.setattr(load_module, "insert_frame", real_insert)
    with registry(db) as con:
        outcome = load_input(con, "run-2", "core-2025@1", prepared, decide, load_precision())
        assert outcome.rows_loaded == 2
        assert con.execute("SELECT count(*) FROM measurements").fetchone()[0] == 2


def test_a_locked_registry_waits_then_names_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True);"
         " time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(RegistryLocked) as caught:
            connect(db, lock_timeout_s=1.0)
        assert 1.0 <= time.monotonic() - started < 10
        assert str(db) in str(caught.value) and "locked by another process" in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
