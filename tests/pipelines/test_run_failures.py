"""A run that cannot complete: nothing half-written, and no data values in its reason."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from lock_holder import write_lock_held
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.flows import nightly as flow
from pipelines.flows.nightly import load_stage
from pipelines.ingest.prepare import prepare_input
from pipelines.ingest.settings import resolve_settings
from pipelines.registry.outcome import RunSummary
from pipelines.registry.store import RegistryLocked, registry
from pipelines.runtime.messages import safe_reason
from schemas.errors import FileProblem
from sources.detect import discover

runner = CliRunner()
SECRET = "PATIENT-4711"  # a value that must never reach a screen, a log or the registry


def _prepared(tmp_path: Path):
    inputs, _ = discover([write_csv(tmp_path / "in.csv", [make_row(patient_id=SECRET)])])
    return [prepare_input(i) for i in inputs]


def test_a_registry_locked_after_the_start_is_left_untouched(tmp_path: Path) -> None:
    """The lock is taken while inputs are prepared: the load stage waits, then fails
    without writing a run row (it is the first thing the stage would write)."""
    db = tmp_path / "r.duckdb"
    with registry(db):
        pass  # created and migrated, as the run's first check leaves it
    prepared = _prepared(tmp_path)
    with write_lock_held(db):
        summary = RunSummary(run_id="run-1", ruleset="core-2025@3", db_path=str(db))
        with pytest.raises(RegistryLocked, match="locked by another process"):
            load_stage.fn(str(db), summary, resolve_settings(lock_timeout_s=1.0), prepared)
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("runs", "exams", "source_files"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def _explode(*_args, **_kwargs):
    raise duckdb.ConstraintException(f"Duplicate key \"patient_id: {SECRET}\"")


def test_a_run_that_breaks_off_is_recorded_failed_without_data_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "r.duckdb"
    monkeypatch.setattr(flow, "load_input", _explode)
    summary = RunSummary(run_id="run-1", ruleset="core-2025@3", db_path=str(db))
    with pytest.raises(duckdb.ConstraintException):
        load_stage.fn(str(db), summary, resolve_settings(lock_timeout_s=5.0), _prepared(tmp_path))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status, message FROM runs").fetchall() == [
            ("failed", "ConstraintException")
        ]
        assert con.execute("SELECT count(*) FROM exams").fetchone()[0] == 0


def test_the_cli_prints_one_line_without_data_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness
) -> None:
    monkeypatch.setattr(flow, "load_input", _explode)
    data = write_csv(tmp_path / "in.csv", [make_row(patient_id=SECRET)])
    result = runner.invoke(app, ["run", str(data), "--db", str(tmp_path / "r.duckdb")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dxa: error: the run could not complete:")
    assert "ConstraintException" in lines[0]
    assert SECRET not in result.output


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileProblem("required column missing: sex"), "required column missing: sex"),
        (duckdb.ConversionException(f"Could not convert '{SECRET}'"), "ConversionException"),
        (PermissionError(13, "Permission denied", f"/data/{SECRET}.csv"),
         "PermissionError: Permission denied"),
        (ValueError(SECRET), "ValueError"),
    ],
)
def test_safe_reason_keeps_our_messages_and_drops_foreign_ones(
    exc: Exception, expected: str
) -> None:
    assert safe_reason(exc) == expected
