"""An encrypted registry through `dxa`: created, reopened, read, exported, and refused in
one line without its key, with a wrong key, or with a key file others can read."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.registry.duckdb_file import DuckDBFileRegistry
from pipelines.registry.extensions import ExtensionMissing, extension_directory, wheel_file
from pipelines.registry.identify import Content, check_path

runner = CliRunner()
#: A patient id no DuckDB page would hold by chance: looked for in the file's bytes.
PATIENT = "ZQX-884211-PATIENT"
KEY = "correct horse battery staple 0123"


def _key_file(folder: Path, text: str = KEY, mode: int = 0o600, name: str = "r.key") -> Path:
    path = folder / name
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def _one_line(result) -> str:  # noqa: ANN001 - click's Result
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "Traceback" not in result.output and KEY not in result.output
    return lines[0]


def _run(folder: Path, db: Path, extra: list[str], env: dict[str, str] | None = None):  # noqa: ANN202
    data = write_csv(folder / "in.csv", [make_row(exam_id="E1", patient_id=PATIENT),
                                         make_row(exam_id="E2", patient_id="P-2")])
    return runner.invoke(app, ["run", str(data), "--db", str(db), "--json", *extra], env=env)


@pytest.mark.parametrize("through", ["option", "environment"])
def test_run_report_export_on_an_encrypted_registry(
    tmp_path: Path, prefect_harness, through: str
) -> None:
    key_file = _key_file(tmp_path)
    db = tmp_path / "r.duckdb"
    extra, env = ((["--key-file", str(key_file)], None) if through == "option"
                  else ([], {"DXA_KEY_FILE": str(key_file)}))
    result = _run(tmp_path, db, extra, env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows_loaded"] == 2
    copy = tmp_path / "r.report.duckdb"
    for path in (db, copy):  # the registry and its byte copy: both encrypted, no plain id
        assert check_path(path) is Content.ENCRYPTED
        assert PATIENT.encode() not in path.read_bytes()
    assert KEY not in result.output

    report = runner.invoke(app, ["report", "--db", str(copy), "--format", "json", *extra],
                           env=env)
    assert report.exit_code == 0, report.output
    out = tmp_path / "overdue.parquet"
    export = runner.invoke(app, ["export", "treatment-candidates", "--db", str(copy),
                                 "--output", str(out), "--as-of", "2030-01-01", *extra],
                           env=env)
    assert export.exit_code == 0, export.output
    about = pl.read_parquet_metadata(out)
    assert about["registry encrypted at rest"] == "yes"

    again = _run(tmp_path, db, extra, env)  # reopened for writing with the same key
    assert again.exit_code == 0, again.output


def test_an_encrypted_registry_is_refused_without_its_key_or_with_a_wrong_one(
    tmp_path: Path
) -> None:
    db = tmp_path / "r.duckdb"
    with DuckDBFileRegistry(db, key=KEY).writer():
        pass
    line = _one_line(runner.invoke(app, ["report", "--db", str(db)], env={"DXA_KEY_FILE": ""}))
    assert f"--db {db}: encrypted: give --key-file" in line
    wrong = _key_file(tmp_path, "another key of enough length", name="wrong.key")
    line = _one_line(runner.invoke(app, ["report", "--db", str(db), "--key-file", str(wrong)]))
    assert "wrong encryption key" in line
    line = _one_line(runner.invoke(app, ["rulesets", "primary", "core-2025@3", "--db", str(db),
                                         "--key-file", str(wrong)]))
    assert "wrong encryption key" in line


def test_a_key_file_others_can_read_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    key_file = _key_file(tmp_path, mode=0o644)
    db = tmp_path / "r.duckdb"
    line = _one_line(_run(tmp_path, db, ["--key-file", str(key_file)]))
    assert f"--key-file {key_file}: is readable by others" in line and "chmod 600" in line
    assert not db.exists()


def test_a_plain_registry_keeps_working_without_a_key_and_refuses_one(tmp_path: Path) -> None:
    db = tmp_path / "plain.duckdb"
    with DuckDBFileRegistry(db).writer():
        pass
    assert check_path(db) is Content.DUCKDB
    assert runner.invoke(app, ["rulesets", "--db", str(db)]).exit_code == 0
    line = _one_line(runner.invoke(app, ["rulesets", "--db", str(db), "--key-file",
                                         str(_key_file(tmp_path))]))
    assert "is not encrypted; run without --key-file" in line


def test_a_key_with_a_quote_is_one_sql_literal(tmp_path: Path) -> None:
    registry = DuckDBFileRegistry(tmp_path / "r.duckdb", key="o'brien's key'); DROP --")
    with registry.writer():
        pass
    with registry.reader() as con:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0


def test_extensions_install_from_the_wheel_into_a_private_folder(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DXA_EXTENSION_DIR", str(tmp_path / "ext"))
    assert wheel_file("httpfs").name == "httpfs.duckdb_extension"
    folder = extension_directory()
    assert folder.stat().st_mode & 0o777 == 0o700
    with pytest.raises(ExtensionMissing, match="install duckdb-extension-nosuch=="):
        wheel_file("nosuch")


def test_reassess_into_a_what_if_copy_keeps_it_encrypted(tmp_path: Path, prefect_harness) -> None:
    key_file = _key_file(tmp_path)
    db = tmp_path / "r.duckdb"
    assert _run(tmp_path, db, ["--key-file", str(key_file)]).exit_code == 0
    what_if = tmp_path / "what-if.duckdb"
    result = runner.invoke(app, ["reassess", "--db", str(db), "--ruleset", "bhof-2022",
                                 "--into", str(what_if), "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert check_path(what_if) is Content.ENCRYPTED
    assert PATIENT.encode() not in what_if.read_bytes()
    compare = runner.invoke(app, ["compare", "--db", str(what_if), "core-2025", "bhof-2022",
                                  "--key-file", str(key_file)])
    assert compare.exit_code == 0, compare.output
