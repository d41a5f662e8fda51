"""Progress on a terminal: bars with a percentage, the totals and the time left; nothing
in logs, pipes or `--json`; the work reports each batch's bytes and the exams judged.

The bars are driven with a fake terminal (rich's Console forced to a terminal, writing to
a StringIO); the work is driven without Prefect (the hook is a plain module global).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from exam_rows import make_row, write_csv
from report_registry import _night
from rich.console import Console
from test_large_input import _prepare, _write

from pipelines.cli.console import run_status
from pipelines.cli.progress_bars import ProgressBars
from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.reassess import reassess_registry
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run
from pipelines.registry.store import registry
from pipelines.runtime import progress
from pipelines.runtime.progress import Unit, Update
from sources.read_csv import layout_of
from transforms.precision import load_precision

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTty(io.StringIO):
    """A stream that says it is a terminal (as a person's screen does)."""

    def isatty(self) -> bool:
        return True


def _screen(stream: io.StringIO) -> str:
    return ANSI.sub("", stream.getvalue())


def test_a_bar_shows_the_percentage_the_totals_and_the_time_left() -> None:
    stream = io.StringIO()
    console = Console(force_terminal=True, file=stream, width=140)
    with ProgressBars(console, "Starting") as bars:
        bars(Update("prepared", "exams.csv"))
        bars(Update("reassess", "core-2025@3: exams judged", 0, 2_000, Unit.EXAMS, "core"))
        bars(Update("reassess", "core-2025@3: exams judged", 1_000, 2_000, Unit.EXAMS,
                    "core"))
        bars(Update("batch", "big.csv: batch 1 of 3, 7,000 rows", 1_500_000, 4_500_000,
                    Unit.BYTES, "/data/big.csv"))
        last = bars.progress.tasks
    screen = _screen(stream)
    assert "prepared: exams.csv" in screen  # the status line, without a bar
    judged = [line for line in screen.splitlines() if "exams judged" in line][-1]
    assert " 50% " in judged and "1,000/2,000 exams" in judged
    assert re.search(r"(-:--:--|\d:\d\d:\d\d)$", judged.rstrip())  # the time remaining
    staged = [line for line in screen.splitlines() if "big.csv: batch 1 of 3" in line][-1]
    assert " 33% " in staged and "1.5 MB/4.5 MB" in staged
    # one status line and one bar per counted subject, however many updates came
    assert [(t.description, t.total, t.completed, t.visible) for t in last] == [
        ("prepared: exams.csv", None, 0, False),  # hidden while a bar moves
        ("reassess: core-2025@3: exams judged", 2_000, 1_000, True),
        ("batch: big.csv: batch 1 of 3, 7,000 rows", 4_500_000, 1_500_000, True),
    ]


def test_the_status_line_has_no_bar_and_no_percentage() -> None:
    stream = io.StringIO()
    with ProgressBars(Console(force_terminal=True, file=stream, width=100), "Starting") as bars:
        bars(Update("loaded", "exams.csv"))
    lines = [line for line in _screen(stream).splitlines() if "loaded: exams.csv" in line]
    assert lines and all("%" not in line and "━" not in line for line in lines)


def test_nothing_is_shown_off_a_terminal_or_with_json() -> None:
    """A log or a pipe (FORCE_COLOR or not) and `--json` get no reporter and no output."""
    for console in (Console(file=io.StringIO()),  # a pipe
                    Console(file=io.StringIO(), force_terminal=True)):  # FORCE_COLOR in CI
        with run_status(show=True, console=console) as on_progress:
            assert on_progress is None
        assert console.file.getvalue() == ""
    tty = Console(file=FakeTty(), force_terminal=True)
    with run_status(show=False, console=tty) as on_progress:  # dxa run --json
        assert on_progress is None
    assert tty.file.getvalue() == ""
    with run_status(show=True, console=tty) as on_progress:  # a person's terminal
        assert isinstance(on_progress, ProgressBars)


def test_a_staged_large_input_reports_each_batch_with_its_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path)
    prepared = _prepare(path, batch_bytes=1_000)
    ends = [end for _, end in layout_of(path.read_bytes(), 1_000).batches]
    assert len(ends) >= 8
    updates: list[Update] = []
    ruleset = resolve_ruleset("core-2025")
    with registry(tmp_path / "r.duckdb") as con, progress.reporting(updates.append):
        begin_run(con, "run-1", ruleset.label)
        load_input(writer_for(con), "run-1", ruleset.label, prepared, decider_for(ruleset),
                   load_precision())
    counted = [u for u in updates if u.counted]
    assert [u.completed for u in counted] == ends  # each batch, its bytes read so far
    assert {u.total for u in counted} == {ends[-1]} == {path.stat().st_size}
    assert {(u.stage, u.unit, u.subject) for u in counted} == {("batch", Unit.BYTES,
                                                                  str(path))}
    assert [u.detail.split(",")[0] for u in counted] == [
        f"large.csv: batch {i} of {len(ends)}" for i in range(1, len(ends) + 1)]
    assert counted[-1].detail == f"large.csv: batch {len(ends)} of {len(ends)}, 60 rows"
    assert updates[-1] == Update("batch", "large.csv: moving the staged rows into the registry")
    assert not any(re.search(r"\bE\d{3}\b|\bP\d\b", u.detail) for u in updates)  # no ids
    assert progress._reporter is None  # the hook is cleared after the work


def test_reassess_reports_the_exams_judged(tmp_path: Path) -> None:
    rows = [make_row(exam_id=f"E{i:03d}", patient_id=f"P{i}") for i in range(25)]
    db = tmp_path / "r.duckdb"
    with registry(db) as con:
        _night(con, write_csv(tmp_path / "exams.csv", rows), "run-1", "core-2025")
    chosen = resolve_ruleset("bhof-2022")
    updates: list[Update] = []
    with registry(db) as con, progress.reporting(updates.append):
        counts = reassess_registry(writer_for(con), "reassess-1", chosen,
                                   decider_for(chosen), batch_size=10)
    assert counts.exams_read == 25 and counts.batches == 3
    assert [(u.completed, u.total) for u in updates] == [(0, 25), (10, 25), (20, 25),
                                                          (25, 25)]
    assert {(u.stage, u.unit, u.subject, u.detail) for u in updates} == {
        ("reassess", Unit.EXAMS, chosen.label, f"{chosen.label}: exams judged")}
