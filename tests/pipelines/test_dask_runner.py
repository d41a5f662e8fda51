"""Scaling out: the flow on a local Dask cluster of two workers writes the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from exam_rows import SAMPLE_DATA

from pipelines.flows.nightly import registry_flow
from pipelines.flows.runners import task_runner_for

pytestmark = pytest.mark.usefixtures("prefect_harness")

TABLES = {
    "exams": "SELECT * EXCLUDE (run_id) FROM exams ORDER BY exam_id",
    "measurements": "SELECT * FROM measurements ORDER BY exam_id, site",
    "assessments": "SELECT * EXCLUDE (run_id) FROM assessments ORDER BY exam_id, ruleset",
    "flags": "SELECT * EXCLUDE (run_id) FROM flags ORDER BY ALL",
    "quarantine": "SELECT * EXCLUDE (run_id) FROM quarantine ORDER BY ALL",
    "bmd_changes": "SELECT * EXCLUDE (run_id) FROM bmd_changes ORDER BY exam_id, site, comparison",
    "source_files": "SELECT file_sha256, status, rows_read, rows_loaded, rows_quarantined,"
                    " rows_duplicate FROM source_files ORDER BY file_sha256",
}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


def test_local_dask_cluster_gives_the_same_tables(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for csv_file in sorted(SAMPLE_DATA.glob("*.csv")):
        shutil.copy(csv_file, inputs / csv_file.name)
    default_db, dask_db = tmp_path / "default.duckdb", tmp_path / "dask.duckdb"
    registry_flow(paths=[str(inputs)], db=str(default_db))
    on_dask = registry_flow.with_options(task_runner=task_runner_for("local", workers=2))
    summary = on_dask(paths=[str(inputs)], db=str(dask_db))
    assert summary.status == "completed"
    expected, got = snapshot(default_db), snapshot(dask_db)
    assert expected["exams"], "the sample loaded nothing"
    for name in TABLES:
        assert got[name] == expected[name], name
