"""Large CSVs are read in batches: the outcome must be the one of reading them whole.

The batch size is set tiny (`ReadOptions.batch_bytes`) so that a few dozen rows span many
batches, with duplicates, conflicts, blank lines and a truncated row across boundaries.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from exam_rows import make_row, write_csv
from polars.testing import assert_frame_equal

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import PreparedInput, prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run
from pipelines.registry.store import registry
from schemas.columns import CANONICAL_COLUMNS
from schemas.errors import FileProblem
from sources.base import ReadOptions
from sources.detect import Input
from transforms.precision import load_precision

TABLES = ("exams", "measurements", "assessments", "flags", "bmd_changes", "quarantine")


def _rows() -> list[dict[str, str]]:
    rows = [
        make_row(exam_id=f"E{i:03d}", patient_id=f"P{i % 7}", exam_date=f"20{10 + i % 14}-03-01",
                 femoral_neck_bmd=f"{0.6 + i / 1000:.3f}")
        for i in range(60)
    ]
    rows[40] = dict(rows[3])  # exact copy of an early row: counted once, across batches
    rows[45] = make_row(exam_id="E010", femoral_neck_t="-3.0")  # conflicts with row 11
    rows[50] = make_row(exam_id="E999", sex="X")  # a row that fails validation
    return rows


def _write(tmp_path: Path) -> Path:
    path = write_csv(tmp_path / "large.csv", _rows())
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(20, "\n")  # a blank line in the middle
    lines.insert(30, "," * 40 + "\n")  # a line of empty cells
    lines[35] = ",".join(lines[35].split(",")[:10]) + "\n"  # a truncated row
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _prepare(path: Path, batch_bytes: int | None = None) -> PreparedInput:
    options = ReadOptions() if batch_bytes is None else ReadOptions(batch_bytes=batch_bytes)
    return prepare_input(Input(path, "canonical_csv"), options)


def test_batches_give_the_same_rows_as_the_whole_file(tmp_path: Path) -> None:
    path = _write(tmp_path)
    whole = _prepare(path)
    batched = _prepare(path, batch_bytes=1_000)
    assert whole.large is None and whole.error is None
    assert batched.large is not None and batched.error is None
    batches = list(batched.batches())
    assert len(batches) >= 8
    assert_frame_equal(pl.concat([b.valid for b in batches]), whole.valid)
    assert_frame_equal(pl.concat([b.quarantine for b in batches]), whole.quarantine)
    assert sum(b.rows_read for b in batches) == whole.rows_read == 60
    assert sum(b.rows_duplicate for b in batches) == whole.rows_duplicate == 1
    assert "2 blank rows ignored" in whole.notes
    errors = dict(zip(whole.quarantine["row_number"], whole.quarantine["errors"], strict=True))
    conflict = "exam_id: appears 2 times in this file with different content"
    assert errors[11] == errors[48] == conflict
    assert errors[53] == "sex: is not one of the allowed values"
    truncated = [e for e in errors.values() if "a truncated row" in e]
    width = len(CANONICAL_COLUMNS)  # write_csv writes every canonical column
    assert len(truncated) == 1 and f"row: has 10 fields, the header has {width}" in truncated[0]


def _load(db: Path, prepared: PreparedInput) -> dict[str, pl.DataFrame]:
    ruleset = resolve_ruleset("core-2025")
    with registry(db) as con:
        begin_run(con, "run-1", ruleset.label)
        outcome = load_input(writer_for(con),
                             "run-1", ruleset.label, prepared, decider_for(ruleset),
                             load_precision())
        assert outcome.balanced and outcome.rows_read == 60
        tables = {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").pl() for t in TABLES}
        tables["source_files"] = con.sql(
            "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate FROM source_files"
        ).pl()
        assert "2 blank rows ignored" in outcome.notes
    assert not list(db.parent.glob(".*staging*")), "the staging database is removed"
    return tables


def test_a_batched_file_loads_the_same_registry(tmp_path: Path) -> None:
    path = _write(tmp_path)
    whole = _load(tmp_path / "whole.duckdb", _prepare(path))
    batched = _load(tmp_path / "batched.duckdb", _prepare(path, batch_bytes=1_000))
    for table, frame in whole.items():
        assert_frame_equal(batched[table], frame, check_row_order=False), table
    assert whole["source_files"].row(0) == (60, 55, 4, 1)
    # serial comparison chains exams of one patient across batches of the same file
    assert whole["bmd_changes"].height > 0


def test_a_malformed_row_in_a_later_batch_fails_the_file_and_loads_nothing(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path)
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text[-3] = text[-3].rstrip("\n") + ",extra,fields\n"  # too many fields, near the end
    path.write_text("".join(text), encoding="utf-8")
    prepared = _prepare(path, batch_bytes=1_000)
    assert prepared.error is None  # the header and ids were fine; the rows are read later
    ruleset = resolve_ruleset("core-2025")
    with registry(tmp_path / "r.duckdb") as con:
        begin_run(con, "run-1", ruleset.label)
        width = len(CANONICAL_COLUMNS)
        with pytest.raises(FileProblem,
                           match=rf"line \d+ has {width + 2} fields, the header has {width}"):
            load_input(writer_for(con), "run-1", ruleset.label, prepared, decider_for(ruleset),
                       load_precision())
        for table in ("exams", "measurements", "assessments", "quarantine", "source_files"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert not list(tmp_path.glob(".*staging*")), "the staged batches are discarded"


def test_a_file_that_changes_between_prepare_and_load_fails(tmp_path: Path) -> None:
    path = _write(tmp_path)
    prepared = _prepare(path, batch_bytes=1_000)
    path.write_text(path.read_text(encoding="utf-8").replace("E001", "E999"), encoding="utf-8")
    with pytest.raises(FileProblem, match="changed while it was being read"):
        list(prepared.batches())


def test_a_registry_path_with_a_quote_loads_through_the_staging_database(
    tmp_path: Path,
) -> None:
    """The staging database is attached by path: a `'` in it must not break the SQL."""
    folder = tmp_path / "o'brien's registry"
    folder.mkdir()
    tables = _load(folder / "r.duckdb", _prepare(_write(tmp_path), batch_bytes=1_000))
    assert tables["source_files"].row(0) == (60, 55, 4, 1)
