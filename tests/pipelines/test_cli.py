"""`dxa` exit codes and messages: 0 for a completed run, 1 with one line when it cannot run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from exam_rows import REPO, make_row, write_csv
from lock_holder import write_lock_held
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()


def _plain(output: str) -> str:
    """The words of a rich error panel, without its frame and line breaks."""
    return " ".join(output.translate(str.maketrans("", "", "│╭╮╰╯─")).split())


def test_run_completes_with_quarantined_rows_exit_0(tmp_path: Path, prefect_harness) -> None:
    data = write_csv(tmp_path / "in.csv", [make_row(exam_id="A"), make_row(exam_id="B", sex="")])
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(data), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"]) == (2, 1, 1)
    assert "P-1" not in result.output  # no patient identifiers on screen


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--ruleset", "no-such-ruleset", "no-such-ruleset"),
    ("--t-reference", "no-such-reference", "unknown T-score reference 'no-such-reference'"),
])
def test_unknown_ruleset_or_t_reference_is_one_line_exit_1(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    """A run's files are checked before anything is written: no registry is created."""
    data = write_csv(tmp_path / "in.csv", [make_row()])
    result = runner.invoke(app, ["run", str(data), "--db", str(tmp_path / "r.duckdb"),
                                 option, value])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.duckdb").exists()


def test_missing_path_exit_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "nope"), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_locked_registry_exit_1_and_nothing_written(tmp_path: Path, prefect_harness) -> None:
    db = tmp_path / "r.duckdb"
    duckdb.connect(str(db)).close()
    data = write_csv(tmp_path / "in.csv", [make_row()])
    with write_lock_held(db):
        result = runner.invoke(app, ["run", str(data), "--db", str(db), "--lock-timeout", "1"])
    assert result.exit_code == 1
    assert "locked by another process" in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
    assert tables == 0


def test_report_formats_and_bad_format(tmp_path: Path, prefect_harness) -> None:
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [make_row()])
    assert runner.invoke(app, ["run", str(data), "--db", str(db)]).exit_code == 0
    as_json = runner.invoke(app, ["report", "--db", str(db), "--format", "json"])
    assert as_json.exit_code == 0
    sections = {s["section"]: s["rows"] for s in json.loads(as_json.output)["sections"]}
    assert sections["latest_run"][0]["rows_loaded"] == 1
    as_csv = runner.invoke(app, ["report", "--db", str(db), "--format", "csv"])
    assert as_csv.output.splitlines()[0].startswith("section,run_id,status,ruleset,")
    bad = runner.invoke(app, ["report", "--db", str(db), "--format", "xml"])
    assert bad.exit_code == 2  # refused by the parser, which lists the choices
    assert "table" in bad.output and "html" in bad.output


@pytest.mark.parametrize(
    ("option", "typo", "choices"),
    [
        ("--format", "lunr", "'auto', 'canonical'"),
        ("--date-format", "YMD", "'dmy', 'mdy'"),  # any case is accepted
    ],
)
def test_a_typo_in_a_fixed_choice_is_refused_by_the_parser(
    tmp_path: Path, option: str, typo: str, choices: str
) -> None:
    """Nothing runs: exit 2 (usage error) with the valid choices listed, no registry."""
    data = write_csv(tmp_path / "in.csv", [make_row()])
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(data), "--db", str(db), option, typo])
    assert result.exit_code == 2
    text = _plain(result.output)
    assert typo in text and choices in text
    assert not db.exists()


def test_the_installed_dxa_command_runs_in_ephemeral_mode(tmp_path: Path) -> None:
    """The real console script in a fresh process: no server, no harness."""
    data = write_csv(tmp_path / "in.csv", [make_row()])
    dxa = Path(sys.executable).parent / "dxa"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [str(dxa), "run", str(data), "--db", str(tmp_path / "r.duckdb")],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "completed" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["rules"], ["rules", "--markdown"], ["rulesets"]])
def test_catalog_commands(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 0
    assert "core-2025" in result.output or "TX-LOW-RISK" in result.output


def test_apex_hip_choice_is_one_note(tmp_path: Path, prefect_harness) -> None:
    """Both hips scanned: the adapter's note says which hip was kept, once; the other hip
    is not reported again as something "not loaded as exams"."""
    result = runner.invoke(app, ["run", str(REPO / "sample_data" / "apex"), "--db",
                                 str(tmp_path / "r.duckdb")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps long lines
    assert text.count("with both hips scanned: kept the hip with the lower T-score") == 1
    assert "contralateral" not in text
    assert "qc scans not loaded as exams" in text
