"""File and column names are data: square brackets are printed as they are, never read
as screen formatting (rich markup), on every screen `dxa` prints."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from exam_rows import make_row
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.usefixtures("prefect_harness")
def test_bracketed_file_and_column_names_are_printed_literally(tmp_path: Path) -> None:
    data = tmp_path / "exams [draft] v2.csv"
    row = {**make_row(exam_id="A"), "weight [kg]": "65", "dose [/day]": "5"}
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(data), "--db", str(db)])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "exams [draft] v2.csv" in text
    assert "weight [kg]" in text and "dose [/day]" in text
    assert "MarkupError" not in text
    report = runner.invoke(app, ["report", "--db", str(db)])
    assert report.exit_code == 0, report.output


def test_a_missing_bracketed_path_is_named_literally(tmp_path: Path) -> None:
    missing = tmp_path / "night [/x] [b].csv"
    result = runner.invoke(app, ["run", str(missing), "--db", str(tmp_path / "r.duckdb")])
    assert result.exit_code == 1
    assert str(missing) in _flat(result.output)


def test_the_summary_table_prints_a_bracketed_name_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The inputs table of `dxa run` (a console with markup off): no escaping shown."""
    from pipelines.cli.console import print_summary
    from pipelines.registry.outcome import FileOutcome, RunSummary

    summary = RunSummary(run_id="r1", ruleset="core-2025@3", db_path="x.duckdb",
                         status="completed",
                         files=[FileOutcome(path="exams [draft] v2.csv", status="loaded",
                                            rows_read=3, rows_loaded=3)],
                         quarantine_reasons={"dose [/day]: is not a number": 1})
    print_summary(summary)
    printed = capsys.readouterr().out
    assert "exams [draft] v2.csv" in printed
    assert "dose [/day]: is not a number" in printed
    assert "\\[" not in printed
