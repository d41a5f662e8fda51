"""The registry flow's Prefect state follows `dxa run`'s exit code: Failed when it is 2.

Why: on the Prefect server route nobody reads an exit code; a night whose inputs failed
must end Failed, its message naming the failed inputs by file name and count (no data
values), while the registry keeps what loaded and `dxa run` still prints its summary and
exits 2. The server route itself: tests/pipelines/test_prefect_server.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv

from pipelines.flows.nightly import registry_flow
from pipelines.flows.outcome_state import (
    InputsFailed,
    failure_message,
    final_state,
    summary_of,
)
from pipelines.registry.outcome import FileOutcome, RunSummary
from schemas.vocabulary import FileAction


def night(folder: Path, good: int, broken: int) -> Path:
    """`good` valid exports (one exam each, patient SECRET-P*) and `broken` ones."""
    folder.mkdir()
    for i in range(good):
        write_csv(folder / f"good-{i}.csv",
                  [make_row(exam_id=f"SECRET-E{i}", patient_id=f"SECRET-P{i}")])
    for i in range(broken):
        (folder / f"broken-{i}.csv").write_text("exam_id,patient_id\nSECRET-X,SECRET-Y\n")
    return folder


def summary_with(statuses: list[FileAction]) -> RunSummary:
    summary = RunSummary(run_id="R1", ruleset="core-2025@3", db_path="r.duckdb")
    summary.files = [FileOutcome(path=f"/in/f{i}.csv", status=s)
                     for i, s in enumerate(statuses)]
    return summary


def test_a_run_without_failures_returns_its_summary() -> None:
    summary = summary_with([FileAction.LOADED, FileAction.SKIPPED])
    assert failure_message(summary, ["/in"]) is None
    assert final_state(summary, ["/in"]) is summary  # Prefect makes it Completed


def test_the_message_names_the_failed_inputs_and_counts_them() -> None:
    summary = summary_with([FileAction.FAILED, FileAction.LOADED, FileAction.FAILED])
    assert failure_message(summary, ["/in"]) == "2 of 3 inputs failed: f0.csv, f2.csv (run R1)"


def test_many_failed_inputs_are_counted_and_the_first_ten_named() -> None:
    summary = summary_with([FileAction.FAILED] * 12)
    assert failure_message(summary, ["/in"]) == (
        "12 of 12 inputs failed: f0.csv, f1.csv, f2.csv, f3.csv, f4.csv, f5.csv, f6.csv,"
        " f7.csv, f8.csv, f9.csv and 2 more (run R1)")


def test_a_night_without_exports_fails_too() -> None:
    state = final_state(summary_with([]), ["/data/dxa/incoming"])
    assert state.is_failed()
    assert state.message == "no exports found in /data/dxa/incoming"


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_with_failed_inputs_ends_failed_and_keeps_what_loaded(
    tmp_path: Path,
) -> None:
    folder = night(tmp_path / "in", good=1, broken=2)
    db = tmp_path / "r.duckdb"
    state = registry_flow(paths=[str(folder)], db=str(db), return_state=True)
    assert state.type.value == "FAILED"
    assert state.message.startswith("2 of 3 inputs failed: broken-0.csv, broken-1.csv (run ")
    assert "SECRET" not in state.message
    summary = summary_of(state)
    assert (summary.status, summary.files_failed, summary.total("rows_loaded")) == (
        "completed", 2, 1)
    assert state.message.endswith(f"(run {summary.run_id})")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("completed",)]
        assert con.execute("SELECT count(*) FROM exams").fetchall() == [(1,)]
    # called as a plain function, the flow raises the same, with the summary
    with pytest.raises(InputsFailed, match=r"^2 of 3 inputs failed") as raised:
        registry_flow(paths=[str(folder)], db=str(db))
    assert raised.value.summary is not None and raised.value.summary.files_failed == 2


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_that_loads_everything_ends_completed(tmp_path: Path) -> None:
    folder = night(tmp_path / "in", good=2, broken=0)
    state = registry_flow(paths=[str(folder)], db=str(tmp_path / "r.duckdb"),
                          return_state=True)
    assert state.type.value == "COMPLETED"
    assert summary_of(state).total("rows_loaded") == 2
