"""The pipeline times its own stages: in the run summary and in `runs.stage_seconds`."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv

from pipelines.flows.nightly import PlainStages, registry_flow, run_stages
from pipelines.ingest.settings import resolve_settings
from pipelines.runtime.timing import Stage, StageTimer

#: Stages every run of a small new file passes through.
EVERY_RUN = {Stage.READ, Stage.VALIDATE, Stage.OVERLAP, Stage.DECIDE, Stage.HISTORY,
             Stage.SERIAL, Stage.INSERT, Stage.COMMIT, Stage.LEDGER, Stage.REPORT,
             Stage.PUBLISH}


def test_a_timer_adds_up_the_seconds_of_a_stage() -> None:
    timer = StageTimer()
    timer.add(Stage.INSERT, 1.5)
    timer.merge({"insert": 0.5, "read": 2.0})
    with timer.stage(Stage.COMMIT):
        pass
    assert timer.seconds["insert"] == 2.0 and timer.seconds["read"] == 2.0
    assert timer.seconds["commit"] >= 0.0


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_records_its_stage_timings(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in.csv", [make_row(exam_id="A"), make_row(exam_id="B")])
    db = tmp_path / "r.duckdb"
    summary = registry_flow(paths=[str(data)], db=str(db))
    assert set(summary.stage_seconds) >= EVERY_RUN
    assert all(s >= 0 for s in summary.stage_seconds.values())
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT stage_seconds FROM runs").fetchone()[0]
    assert stored == pytest.approx(summary.stage_seconds)


def test_the_same_stages_run_without_prefect(tmp_path: Path) -> None:
    """What the benchmark compares the flow with: the flow's own stages, called plainly."""
    data = write_csv(tmp_path / "in.csv", [make_row(exam_id="A")])
    db = tmp_path / "r.duckdb"
    summary = run_stages([str(data)], str(db), resolve_settings(), PlainStages(),
                         logging.getLogger("test"))
    assert summary.status == "completed"
    assert summary.total("rows_loaded") == 1
    assert set(summary.stage_seconds) >= EVERY_RUN


@pytest.mark.usefixtures("prefect_harness")
def test_the_summary_reports_the_finished_run(tmp_path: Path) -> None:
    """The report inside the summary (artifact, --json) is collected after the run's row
    was closed: it shows the run completed with its counts, not `running` with zeros."""
    data = write_csv(tmp_path / "in.csv", [make_row(exam_id="A"), make_row(exam_id="B")])
    summary = registry_flow(paths=[str(data)], db=str(tmp_path / "r.duckdb"))
    assert summary.report is not None
    (latest,) = summary.report.section("latest_run").as_dicts()
    assert latest["run_id"] == summary.run_id
    assert latest["status"] == "completed"
    assert (latest["rows_read"], latest["rows_loaded"], latest["files_loaded"]) == (2, 2, 1)
