"""The commands on a DuckLake registry answer exactly as on a DuckDB file.

The same sample exports are loaded with `dxa run` into a lake (a PostgreSQL catalog of the
session's server, a data folder) and into a file; every reader's output from the lake must
equal the file's, byte for byte where it is text, row for row where it is a table.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from postgres_server import PostgresServer
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.registry.lake_address import LAKE_PREFIX

REPO = Path(__file__).resolve().parents[2]
FIRST = [str(REPO / "sample_data" / "exams_2019_2021.csv"),
         str(REPO / "sample_data" / "exams_2022_2023.csv")]
LATER = str(REPO / "sample_data" / "exams_2024_2025.csv")
AS_OF = "2025-12-31"
runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def registries(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory,
               prefect_harness: None) -> tuple[str, str]:
    """(lake, file), each loaded by `dxa run` with the same inputs in the same order."""
    folder = tmp_path_factory.mktemp("lake-commands")
    lake = LAKE_PREFIX + postgres.conninfo(postgres.fresh_database())
    file = str(folder / "registry.duckdb")
    for db, extra in ((lake, ["--data-path", str(folder / "lake-data")]), (file, [])):
        _ok("run", *FIRST, "--db", db, *extra)
        _ok("run", LATER, "--db", db)
        _ok("reassess", "--db", db, "--ruleset", "bhof-2022")
    return lake, file


def _both(registries: tuple[str, str], *args: str) -> tuple[str, str]:
    lake, file = registries
    return _ok(*args, "--db", lake), _ok(*args, "--db", file)


def _sections(report_json: str) -> dict[str, list]:
    """The report's sections but the latest run's (its id and start time are its own)."""
    return {s["section"]: s["rows"] for s in json.loads(report_json)["sections"]
            if not s["section"].startswith("latest_run")}


def test_run_and_reassess_load_and_judge_every_exam_once(registries: tuple[str, str]
                                                        ) -> None:
    lake, file = (_sections(text) for text in _both(registries, "report", "--format",
                                                    "json", "--as-of", AS_OF))
    assert lake == file
    (held,) = lake["registry"]
    assert (held["exams"], held["exam_ids_held_twice"]) == (3031, 0)


def test_report_is_the_files(registries: tuple[str, str]) -> None:
    lake, file = _both(registries, "report", "--format", "csv", "--as-of", AS_OF)
    assert ([r for r in lake.splitlines() if not r.startswith("latest_run")]
            == [r for r in file.splitlines() if not r.startswith("latest_run")])


@pytest.mark.parametrize("kind", ["overdue", "treatment-candidates", "workup", "vfa"])
def test_a_worklist_is_the_files(registries: tuple[str, str], tmp_path: Path,
                                 kind: str) -> None:
    lake_db, file_db = registries
    frames = []
    for name, db in (("lake", lake_db), ("file", file_db)):
        out = tmp_path / f"{name}.csv"
        _ok("export", kind, "--db", db, "--as-of", AS_OF, "--output", str(out))
        frames.append(pl.read_csv(out).drop("run_id", strict=False))  # -0.0 == 0.0
    assert frames[0].height > 0
    for name in frames[0].columns:
        assert frames[0][name].sort().equals(frames[1][name].sort()), name


def test_measures_are_the_files(registries: tuple[str, str]) -> None:
    lake, file = _both(registries, "measures", "--period", "2024", "--as-of", AS_OF,
                       "--format", "json")
    assert json.loads(lake) == json.loads(file)
    assert json.loads(lake)


def test_prevalence_is_the_files(registries: tuple[str, str]) -> None:
    lake, file = _both(registries, "prevalence", "--weights", "none", "--format", "csv")
    assert lake == file
    assert len(lake.splitlines()) > 1


def test_compare_is_the_files(registries: tuple[str, str]) -> None:
    lake, file = _both(registries, "compare", "core-2025", "bhof-2022", "--as-of", AS_OF,
                       "--format", "csv")
    assert lake == file


def test_research_extract_is_the_files(registries: tuple[str, str], tmp_path: Path) -> None:
    key = tmp_path / "pseudonym.key"
    key.write_text("ab" * 32)
    key.chmod(0o600)
    lake_db, file_db = registries
    for name, db in (("lake", lake_db), ("file", file_db)):
        _ok("export", "research", "--db", db, "--pseudonym-key", str(key), "--as-of", AS_OF,
            "--output", str(tmp_path / f"{name}.parquet"))
    for table in ("exams", "assessments", "bmd_changes"):
        lake, file = (pl.read_parquet(tmp_path / f"{name}.{table}.parquet")
                      for name in ("lake", "file"))
        assert lake.height > 0
        assert lake.sort(lake.columns).equals(file.sort(file.columns)), table


def test_primary_and_forget_as_on_the_file(registries: tuple[str, str]) -> None:
    """Last in this module: it changes both registries."""
    for db in registries:
        _ok("rulesets", "primary", "bhof-2022@3", "--db", db)
    lake, file = _both(registries, "rulesets", "forget", "core-2025@3")
    assert lake.split(" (run ")[0].split(":", 1)[1] == file.split(" (run ")[0].split(":", 1)[1]
    assert "assessments and" in lake
    lake, file = (_sections(text) for text in _both(registries, "report", "--format",
                                                    "json", "--as-of", AS_OF))
    assert lake == file
    assert {row["ruleset"] for row in lake["categories"]} == {"bhof-2022@3"}
