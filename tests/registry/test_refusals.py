"""A `--db` that is not a registry is refused by every command, in one line, untouched.

DuckDB opens an existing `y.csv` as an empty in-memory database (a run's rows would
vanish) and migrates any DuckDB file it writes to (another application's `customers`
would gain the registry's tables). Each command must refuse such a target before it
writes, with exit code 1 and a line that names the file and what it is; the target's
bytes stay as they were. A registry written by a newer version is refused for writing
and read with a warning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.registry.duckdb_file import DuckDBFileRegistry

runner = CliRunner()


def _csv(path: Path) -> Path:
    path.write_text("exam_id,patient_id\nEX-1,P-1\n", encoding="utf-8")
    return path


def _png(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return path


def _empty(path: Path) -> Path:
    path.touch()
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _foreign(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
        con.execute("CREATE TABLE orders (id INTEGER, customer INTEGER)")
    return path


def _newer(path: Path) -> Path:
    with DuckDBFileRegistry(path).writer() as writer:
        writer.reading().execute(
            "INSERT INTO schema_migrations VALUES (999, '999_future.sql', now())")
    return path


#: name -> (file name, maker, the words the refusal must say)
TARGETS: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    "csv": ("y.csv", _csv, "a text file (CSV or similar), not a DuckDB file"),
    "png": ("chart.duckdb", _png, "is a PNG image"),
    "empty": ("blank.duckdb", _empty, "is an empty file"),
    "folder": ("registry.duckdb", _folder, "is a folder"),
    "foreign": ("shop.duckdb", _foreign, "another application (tables customers, orders)"),
}

#: command name -> argument list given the target and a scratch folder
WRITERS: dict[str, Callable[[Path, Path], list[str]]] = {
    "run": lambda db, tmp: ["run", str(write_csv(tmp / "in.csv", [make_row()])),
                            "--db", str(db)],
    "reassess": lambda db, tmp: ["reassess", "--db", str(db), "--ruleset", "core-2025"],
    "primary": lambda db, tmp: ["rulesets", "primary", "core-2025@3", "--db", str(db)],
    "forget": lambda db, tmp: ["rulesets", "forget", "bhof-2022@3", "--db", str(db)],
}
READERS: dict[str, Callable[[Path, Path], list[str]]] = {
    "rulesets": lambda db, tmp: ["rulesets", "--db", str(db)],
    "report": lambda db, tmp: ["report", "--db", str(db)],
    "export": lambda db, tmp: ["export", "overdue", "--db", str(db),
                               "--output", str(tmp / "list.csv")],
    "prevalence": lambda db, tmp: ["prevalence", "--db", str(db), "--weights", "none"],
    "compare": lambda db, tmp: ["compare", "--db", str(db), "core-2025", "bhof-2022"],
    "patient": lambda db, tmp: ["patient", "P-1", "--db", str(db)],
    "precision": lambda db, tmp: ["precision", "--db", str(db),
                                  "--output", str(tmp / "precision.toml")],
}


def _fingerprint(path: Path) -> str:
    if path.is_dir():
        return "folder:" + ",".join(sorted(p.name for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("command", sorted(WRITERS.keys() | READERS.keys()))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_target_that_is_not_a_registry_is_refused(
    tmp_path: Path, command: str, target: str
) -> None:
    name, make, words = TARGETS[target]
    db = make(tmp_path / name)
    before = _fingerprint(db)
    args = {**WRITERS, **READERS}[command](db, tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert len(lines) == 1, result.output
    assert lines[0].startswith("dxa: error:") and str(db) in lines[0], lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _fingerprint(db) == before
    assert not db.with_name(db.name + ".wal").exists()


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_registry_of_a_newer_schema_is_not_written(tmp_path: Path, command: str) -> None:
    db = _newer(tmp_path / "registry.duckdb")
    before = _fingerprint(db)
    result = runner.invoke(app, WRITERS[command](db, tmp_path))
    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert len(lines) == 1 and "written by a newer version of dxa (schema 999" in lines[0]
    assert _fingerprint(db) == before


def test_a_registry_of_a_newer_schema_is_read_with_a_warning(tmp_path: Path) -> None:
    db = _newer(tmp_path / "registry.duckdb")
    result = runner.invoke(app, ["rulesets", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "dxa: warning: --db" in result.output and "read as it is" in result.output
