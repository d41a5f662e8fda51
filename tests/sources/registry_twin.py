"""Load inputs through the real pipeline (no Prefect) and read back what the registry holds.

The vendor round-trip tests load a vendor export and its canonical twin (the same exams
as a canonical CSV, holding only what the vendor format carries) into two DuckDB files
and require the same exams, measurements and assessments: equality of what reaches the
registry, not of an intermediate frame.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run
from pipelines.registry.store import query, registry
from sources.base import ReadOptions
from sources.detect import Input
from transforms.precision import load_precision

RULESET = "core-2025"

#: Columns that say where a row came from, not what the exam is.
SOURCE_COLUMNS = ("source_format", "vendor", "file_sha256", "source_row_number", "run_id")

#: table -> the key it is sorted by before comparing.
TABLE_KEYS = {
    "exams": ["exam_id"],
    "measurements": ["exam_id", "site"],
    "assessments": ["exam_id", "ruleset"],
}


def load_registry(db: Path, inputs: list[Input]) -> dict[str, pl.DataFrame]:
    """Prepare and load every input into a fresh registry `db`, as `dxa run` does.

    Returns the registry's exams, measurements and assessments (source columns and
    run ids dropped, sorted by key) and its quarantine.
    """
    ruleset = resolve_ruleset(RULESET)
    decide = decider_for(ruleset)
    precision = load_precision(None)
    with registry(db) as con:
        begin_run(con, "round-trip", ruleset.label)
        for item in inputs:
            prepared = prepare_input(item, ReadOptions())
            assert prepared.error is None, f"{item.path}: {prepared.error}"
            load_input(writer_for(con), "round-trip", ruleset.label, prepared, decide, precision)
        out = {
            table: query(con, f"SELECT * FROM {table}")
            .drop(SOURCE_COLUMNS, strict=False)
            .sort(keys)
            for table, keys in TABLE_KEYS.items()
        }
        out["quarantine"] = query(con, "SELECT errors FROM quarantine")
    return out


def assert_same_registry(vendor: dict[str, pl.DataFrame], twin: dict[str, pl.DataFrame]) -> None:
    """Exams, measurements and assessments identical, row for row, column for column."""
    for table in TABLE_KEYS:
        assert vendor[table].height > 0, table
        assert_frame_equal(vendor[table], twin[table], check_exact=True)


def assert_region_recorded(exams: pl.DataFrame) -> None:
    """Every loaded exam with a hip result names the hip, every spine result its vertebra
    count: what serial comparison needs to compare like with like (CHG-SAME-REGION)."""
    hip = pl.col("femoral_neck_bmd").is_not_null() | pl.col("total_hip_bmd").is_not_null()
    hips = exams.filter(hip)
    spines = exams.filter(pl.col("spine_bmd").is_not_null())
    assert hips.height > 0 and spines.height > 0
    assert hips["hip_side"].null_count() == 0
    assert set(hips["hip_side"]) <= {"left", "right"}
    assert spines["spine_vertebrae"].null_count() == 0
