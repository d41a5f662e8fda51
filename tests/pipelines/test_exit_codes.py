"""`dxa run`'s exit codes, so that a scheduler can alert (registry-contract.md section 2).

0: every input loaded or was skipped as already loaded; 2: the run completed but inputs
failed as a whole, or none was found; 1: the run could not complete (nothing written).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()


def _run(*args: str):  # noqa: ANN202 - click's Result
    return runner.invoke(app, ["run", *args])


@pytest.mark.usefixtures("prefect_harness")
def test_loaded_then_skipped_is_0(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in.csv", [make_row()])
    db = str(tmp_path / "r.duckdb")
    assert _run(str(data), "--db", db).exit_code == 0
    again = _run(str(data), "--db", db)
    assert again.exit_code == 0, again.output
    assert "skipped" in again.output


@pytest.mark.usefixtures("prefect_harness")
def test_every_input_failed_is_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("exam_id,colour\nA,blue\n", encoding="utf-8")
    result = _run(str(bad), "--db", str(tmp_path / "r.duckdb"))
    assert result.exit_code == 2, result.output
    assert "failed" in result.output and "bad.csv" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_one_failed_input_beside_a_loaded_one_is_2(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "good.csv", [make_row()])
    (folder / "bad.csv").write_text("exam_id,colour\nA,blue\n", encoding="utf-8")
    result = _run(str(folder), "--db", str(tmp_path / "r.duckdb"), "--json")
    assert result.exit_code == 2, result.output
    assert '"rows_loaded": 1' in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_folder_without_exports_is_2_and_said(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "README.md").write_text("nothing tonight\n", encoding="utf-8")
    result = _run(str(folder), "--db", str(tmp_path / "r.duckdb"))
    assert result.exit_code == 2, result.output
    assert f"no exports found in {folder}" in " ".join(result.output.split())


def test_a_db_in_a_missing_folder_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in.csv", [make_row()])
    missing = tmp_path / "no-such-folder"
    result = _run(str(data), "--db", str(missing / "r.duckdb"))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(missing) in lines[0] and "does not exist" in lines[0]
    assert "IOException" not in result.output


def test_the_store_names_a_missing_folder_too(tmp_path: Path) -> None:
    """A scheduled flow (no CLI in front of it) gets the same clear reason."""
    from pipelines.registry.store import RegistryUnavailable, connect

    with pytest.raises(RegistryUnavailable, match="folder does not exist"):
        connect(tmp_path / "nope" / "r.duckdb")
