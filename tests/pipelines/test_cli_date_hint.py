"""A day-first date in a CSV: `dxa run` names the option that reads it, and says it once."""

from __future__ import annotations

import json
from pathlib import Path

from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()
HINT = ("is not a real date in the form YYYY-MM-DD (it reads as DD/MM/YYYY: "
        "try --date-format DMY)")


def _run(*args: str) -> dict:
    result = runner.invoke(app, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_day_first_dates_hint_dmy_and_load_with_it(tmp_path: Path, prefect_harness) -> None:
    data = write_csv(tmp_path / "in.csv", [
        make_row(exam_id="E1", exam_date="15/03/2024", birth_date="15/06/1961", age_years="")])
    summary = _run(str(data), "--db", str(tmp_path / "iso.duckdb"))
    assert summary["rows_quarantined"] == 1
    sections = {s["section"]: s["rows"] for s in summary["sections"]}
    assert sections["quarantine_reasons"] == [
        {"reason": f"birth_date: {HINT}", "rows": 1},
        {"reason": f"exam_date: {HINT}", "rows": 1},
    ]  # and no "age_years: is required" for the age the dates would give
    assert "15/03/2024" not in json.dumps(sections) and "1961" not in json.dumps(sections)

    summary = _run(str(data), "--db", str(tmp_path / "dmy.duckdb"), "--date-format", "DMY")
    assert (summary["rows_loaded"], summary["rows_quarantined"]) == (1, 0)
