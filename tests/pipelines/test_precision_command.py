"""`dxa precision` on the command line: the table, CSV and JSON, the file and its notes.

The rows go to stdout (CSV and JSON stay machine-readable), the notes and the file written
to stderr; no patient identifier reaches either.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from precision_registry import build_registry, draw_study, study_rows
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.registry.store import registry
from transforms.precision import load_precision

SEED = 7


@pytest.fixture(scope="module")
def registry_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HZ-1: a complete study (30 x 2); HZ-2: an incomplete one (10 x 2)."""
    rng = np.random.default_rng(SEED)
    rows = [*study_rows("HZ-1", draw_study(rng, 30, 2)),
            *study_rows("HZ-2", draw_study(rng, 10, 2))]
    return build_registry(tmp_path_factory.mktemp("precision-command"), rows)


def test_the_command_prints_and_writes(registry_db: Path, tmp_path: Path) -> None:
    output = tmp_path / "facility.toml"
    runner = CliRunner()
    table = runner.invoke(app, ["precision", "--db", str(registry_db), "--output", str(output)])
    assert table.exit_code == 0, table.output
    assert "HZ-1" in table.stdout and "RMS %CV" in table.stdout
    assert 'note: scanner "HZ-2" spine: study incomplete' in table.stderr
    assert f"wrote {output}: 3 scanner and site values" in table.stderr
    assert load_precision(output).scanners.keys() == {"HZ-1"}
    as_csv = runner.invoke(app, ["precision", "--db", str(registry_db), "--format", "csv"])
    frame = pl.read_csv(as_csv.stdout.encode())
    assert frame.height == 6 and frame["complete"].to_list() == [True] * 3 + [False] * 3
    as_json = json.loads(runner.invoke(
        app, ["precision", "--db", str(registry_db), "--format", "json"]).stdout)
    assert [r["df"] for r in as_json["rows"]] == [30, 30, 30, 10, 10, 10]
    assert as_json["complete_df"] == 30 and as_json["registry"] == str(registry_db)
    for result in (table, as_csv):
        assert "SECRET" not in result.output
    missing = runner.invoke(app, ["precision", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "dxa: error:" in missing.stderr


def test_a_registry_without_repeats_holds_no_study(tmp_path: Path) -> None:
    """One exam per patient and day: no set, no row; the file holds the defaults only."""
    rows = [*study_rows("HZ-1", {"spine": np.array([[1.0]])}),
            *study_rows("HZ-1", {"spine": np.array([[1.01]])}, date="2025-03-05",
                        exam_id="SECRET-NEXT-DAY")]
    db = build_registry(tmp_path, rows)
    with registry(db) as con:  # both exams loaded: the days alone keep them apart
        assert con.execute("SELECT count(*) FROM exams").fetchone() == (2,)
    output = tmp_path / "precision.toml"
    result = CliRunner().invoke(app, ["precision", "--db", str(db), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "the registry holds no precision study" in result.stdout
    assert "no scanner and site has a complete study: [default] only" in result.stderr
    loaded = load_precision(output)
    assert dict(loaded.scanners) == {}
    assert dict(loaded.defaults) == dict(load_precision().defaults)
