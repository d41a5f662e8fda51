"""Defaults of `--db` (and `ruleset`, `lock_timeout`): command line > DXA_DB > dxa.toml."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()
SOURCES = ("command line", "environment", "file")


def _invoke(args: list[str], env: dict[str, str | None] | None = None):  # noqa: ANN202
    return runner.invoke(app, args, env={"DXA_DB": None, "COLUMNS": "200", **(env or {})})


def _config(folder: Path, text: str) -> Path:
    path = folder / "dxa.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("given", [
    combo for n in (3, 2, 1, 0) for combo in itertools.combinations(SOURCES, n)])
def test_db_comes_from_the_command_line_then_the_environment_then_dxa_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: tuple[str, ...]
) -> None:
    """Each source names its own (missing) registry; the message says which was used."""
    monkeypatch.chdir(tmp_path)
    args, env = ["report"], {}
    if "command line" in given:
        args += ["--db", "cli.duckdb"]
    if "environment" in given:
        env["DXA_DB"] = "env.duckdb"
    if "file" in given:
        _config(tmp_path, 'db = "file.duckdb"\n')
    result = _invoke(args, env)
    expected = {"command line": "cli.duckdb", "environment": "env.duckdb",
                "file": "file.duckdb"}[given[0]] if given else "registry.report.duckdb"
    assert result.exit_code == 1
    assert result.output == f"dxa: error: no registry at {expected}\n"


def test_dxa_toml_sets_the_runs_registry_and_ruleset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("exam_id\n", encoding="utf-8")
    _config(tmp_path, 'db = "no-such-folder/r.duckdb"\n')
    result = _invoke(["run", "in.csv"])
    assert result.exit_code == 1
    assert result.output == ("dxa: error: --db no-such-folder/r.duckdb: the folder "
                             "no-such-folder does not exist\n")
    _config(tmp_path, 'db = "r.duckdb"\nruleset = "no-such-ruleset"\n')
    result = _invoke(["run", "in.csv"])
    assert result.exit_code == 1
    assert "no-such-ruleset" in result.output
    assert not (tmp_path / "r.duckdb").exists()


def test_without_any_db_the_run_names_the_option_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke(["run", "in.csv"])
    assert result.exit_code == 2
    assert "Missing option '--db' (env var: 'DXA_DB')" in result.output


@pytest.mark.parametrize("command", [["run"], ["reassess"]])
def test_lock_timeout_from_dxa_toml_is_the_writers_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _config(tmp_path, "lock_timeout = 7.5\n")
    assert "[default: 7.5]" in _invoke([*command, "--help"]).output
    (tmp_path / "dxa.toml").unlink()
    assert "[default: 7.5]" not in _invoke([*command, "--help"]).output


def test_a_readers_lock_timeout_and_ruleset_are_not_taken_from_dxa_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lock_timeout` is the writers' wait; `ruleset` the one new exams are judged by."""
    monkeypatch.chdir(tmp_path)
    _config(tmp_path, 'lock_timeout = 7.5\nruleset = "bhof-2022"\n')
    for command in (["report"], ["export"], ["prevalence"]):
        text = _invoke([*command, "--help"]).output
        assert "7.5" not in text and "bhof-2022" not in text, command


def test_dxa_rulesets_alone_lists_the_shipped_rulesets_whatever_dxa_db_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _config(tmp_path, 'db = "file.duckdb"\n')
    result = _invoke(["rulesets"], {"DXA_DB": "env.duckdb"})
    assert result.exit_code == 0, result.output
    assert "core-2025" in result.output


@pytest.mark.parametrize(("text", "problem"), [
    ('db = "r.duckdb"\ndbfile = "x"\n',
     "unknown key 'dbfile' (known keys: db, ruleset, lock_timeout, data_path)"),
    ('lock_timeout = "30"\n', "lock_timeout: Input should be a valid number"),
    ("db = 5\n", "db: Input should be a valid string"),
    ("lock_timeout = -1\n", "lock_timeout: Input should be greater than or equal to 0"),
    ('db = ""\n', "db: String should have at least 1 character"),
    ("db = \n", "not valid TOML: Invalid value (at line 1, column 6)"),
])
def test_a_bad_dxa_toml_is_one_line_naming_the_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, problem: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path, text)
    result = _invoke(["report", "--db", "cli.duckdb"])
    assert result.exit_code == 1
    assert result.output == f"dxa: error: {path}: {problem}\n"
