"""DuckDB store: migrations, atomic per-file loads, bounded wait on a locked registry."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from lock_holder import write_lock_held

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry import staging as load_module
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.store import RegistryLocked, connect, migrate, registry
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
        load_input(writer_for(con), "run-1", "core-2025@3", prepared, decide, load_precision())
    with registry(db) as con:
        for table in ("exams", "measurements", "assessments", "source_files", "run_files"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    monkeypatch.setattr(load_module, "insert_frame", real_insert)
    with registry(db) as con:
        outcome = load_input(writer_for(con),
                             "run-2", "core-2025@3", prepared, decide, load_precision())
        assert outcome.rows_loaded == 2
        assert con.execute("SELECT count(*) FROM measurements").fetchone()[0] == 2


def test_a_locked_registry_waits_then_names_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    duckdb.connect(str(db)).close()
    with write_lock_held(db):
        started = time.monotonic()
        with pytest.raises(RegistryLocked) as caught:
            connect(db, lock_timeout_s=1.0)
        assert 1.0 <= time.monotonic() - started < 10
        assert str(db) in str(caught.value) and "locked by another process" in str(caught.value)


def test_measurements_view_lists_each_recorded_site_like_to_measurements(tmp_path: Path) -> None:
    """The `measurements` view (migration 005) gives exactly the rows and values of
    `to_measurements`: a site appears when its BMD, T or Z is recorded, hip sites carry
    hip_side, the spine its vertebra count (4 when blank)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from pipelines.registry.store import query
    from schemas.columns import CANONICAL_COLUMNS
    from transforms.measurements import MEASUREMENT_COLUMNS, to_measurements

    rows = [
        make_row(exam_id="NECK-ONLY"),
        make_row(exam_id="ALL-SITES", spine_bmd="0.9", spine_t="-1.2", spine_z="-0.4",
                 spine_vertebrae="3", total_hip_bmd="0.8", total_hip_t="-1.0",
                 radius_33_z="-0.7", hip_side="right"),
        make_row(exam_id="Z-ONLY-SPINE", femoral_neck_bmd="", femoral_neck_t="",
                 femoral_neck_z="", spine_z="-2.2", hip_side=""),
        make_row(exam_id="BMD-ONLY-RADIUS", radius_33_bmd="0.7"),
    ]
    path = write_csv(tmp_path / "sites.csv", rows)
    inputs, _ = discover([path])
    decide = decider_for(resolve_ruleset("core-2025"))
    with registry(tmp_path / "r.duckdb") as con:
        load_input(writer_for(con), "run-1", "core-2025@3", prepare_input(inputs[0]), decide,
                   load_precision())
        kind = con.sql(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = 'measurements'"
        ).fetchall()[0][0]
        listed = query(con, "SELECT * FROM measurements ORDER BY exam_id, site")
        exams = query(con, f"SELECT {', '.join(CANONICAL_COLUMNS)} FROM exams")
    expected = to_measurements(exams).select(MEASUREMENT_COLUMNS).sort("exam_id", "site")
    assert kind == 1
    assert listed.height == 1 + 4 + 1 + 2  # neck; all four; spine Z; neck + radius BMD
    view = listed.select(MEASUREMENT_COLUMNS)
    assert_frame_equal(view, expected, check_dtypes=False)
    # Migration 011: each row also carries its exam's scanner and date.
    assert listed.columns[len(MEASUREMENT_COLUMNS):] == ["scanner_serial", "exam_date"]
    assert_frame_equal(
        listed.select("exam_id", "scanner_serial", "exam_date").unique().sort("exam_id"),
        exams.select("exam_id", "scanner_serial", "exam_date").sort("exam_id"),
        check_dtypes=False,
    )
    spine = view.filter(pl.col("site") == "spine")
    assert dict(zip(spine["exam_id"], spine["vertebrae"], strict=True)) == {
        "ALL-SITES": 3, "Z-ONLY-SPINE": 4}


def test_a_batch_with_a_repeated_exam_id_is_refused_before_writing(tmp_path: Path) -> None:
    """exams has no key index (migration 006): the loader itself refuses to load an exam
    id twice, loudly, if the duplicate checks ever let one through."""
    import polars as pl

    from pipelines.ingest.load import AccountingError

    prepared = _prepared(tmp_path)
    prepared.valid = pl.concat([prepared.valid, prepared.valid.head(1)])  # a slipped copy
    decide = decider_for(resolve_ruleset("core-2025"))
    with registry(tmp_path / "r.duckdb") as con:
        with pytest.raises(AccountingError, match=r"^2 exams of .*f\.csv share an exam id"):
            load_input(writer_for(con), "run-1", "core-2025@3", prepared, decide, load_precision())
        for table in ("exams", "assessments", "source_files"):
            assert con.sql(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table


def test_migrations_005_and_006_keep_an_existing_registry_s_exams(tmp_path: Path) -> None:
    """A registry made before 005/006 (measurements stored, exams keyed) upgrades in
    place: every exam kept, measurements now listed from exams, no key index left."""
    from importlib import resources

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                " name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    folder = resources.files("pipelines.registry.migrations")
    for version in (1, 2, 3, 4):
        name = next(p.name for p in folder.iterdir() if p.name.startswith(f"00{version}_"))
        con.execute(folder.joinpath(name).read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                    [version, name])
    # today's loader writes today's tables: load a current registry, copy its rows over
    current = tmp_path / "current.duckdb"
    with registry(current) as fresh:
        load_input(writer_for(fresh), "run-1", "core-2025@3", _prepared(tmp_path),
                   decider_for(resolve_ruleset("core-2025")), load_precision())
    con.execute(f"ATTACH '{current}' AS current (READ_ONLY)")
    for table in ("exams", "assessments", "flags"):
        columns = ", ".join(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall())
        con.execute(f"INSERT INTO {table} SELECT {columns} FROM current.{table}")
    con.execute("DETACH current")
    before = con.sql("SELECT * FROM exams ORDER BY exam_id")
    columns = ", ".join(before.columns)
    rows = before.fetchall()
    try:
        assert migrate(con)[:2] == [5, 6]  # later migrations follow
        assert con.sql(f"SELECT {columns} FROM exams ORDER BY exam_id").fetchall() == rows
        assert con.sql("SELECT exam_id, site FROM measurements ORDER BY 1").fetchall() == [
            ("A", "femoral_neck"), ("B", "femoral_neck")]
        assert con.sql("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'exams'"
                       " AND constraint_type = 'PRIMARY KEY'").fetchall() == [(0,)]
        assert con.sql("SELECT exam_id FROM v_latest_assessment").fetchall() == [("B",)]
    finally:
        con.close()
