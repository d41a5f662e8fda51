"""Ruleset provenance and the lifecycle commands, through `dxa` as a user types them.

Why: a ruleset is known by `ID@VERSION` and its content. An edited file that keeps its id
and version must be refused before anything is written (else its verdicts carry the
shipped name); the same content is welcome again; `reassess --into` must leave the
production file byte for byte as it was; `forget` and `reassess` are recorded in `runs`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.registry.rulesets import RulesetConflict, check_ruleset, record_ruleset
from pipelines.registry.store import registry
from transforms.rules.ruleset import load_ruleset

runner = CliRunner()
SHIPPED = Path(__file__).parents[2] / "rulesets" / "core-2025.toml"
TABLES = ("runs", "run_files", "exams", "assessments", "flags", "rulesets", "rules")


def edited_copy(folder: Path) -> Path:
    """core-2025 with TX-FRAX-HIGH at a hip FRAX of 4 %, id and version kept."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert "frax_hip_pct = 3 " in text
    path = folder / "core-edited.toml"
    path.write_text(text.replace("frax_hip_pct = 3 ", "frax_hip_pct = 4 "), encoding="utf-8")
    return path


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_edited_content_under_a_held_label_is_refused(tmp_path: Path) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        record_ruleset(con, check_ruleset(con, load_ruleset("core-2025")))
        same = tmp_path / "same.toml"
        shutil.copyfile(SHIPPED, same)
        assert check_ruleset(con, load_ruleset(same)).sha256 == sha(SHIPPED)
        with pytest.raises(RulesetConflict) as refused:
            check_ruleset(con, load_ruleset(edited_copy(tmp_path)))
    message = str(refused.value)
    assert "core-edited.toml" in message and "rulesets/core-2025.toml" in message
    assert "core-2025@3" in message and "raise the version" in message


def test_lifecycle_through_the_command_line(tmp_path: Path, prefect_harness) -> None:
    rows = [make_row(exam_id=f"E{i}", patient_id=f"P{i % 4}", exam_date=f"202{i % 5}-03-01",
                     frax_hip_pct=str(2 + i % 4), femoral_neck_t=str(-1.2 - i / 10))
            for i in range(12)]
    data = write_csv(tmp_path / "in.csv", rows)
    db = tmp_path / "r.duckdb"
    first = runner.invoke(app, ["run", str(data), "--db", str(db)])
    assert first.exit_code == 0, first.output
    loaded = counts(db)
    assert loaded["rulesets"] == 1

    # an edited file under the held id@version: refused, nothing written
    refused = runner.invoke(app, ["run", str(data), "--db", str(db),
                                  "--ruleset", str(edited_copy(tmp_path))])
    assert refused.exit_code == 1
    assert "raise the version" in refused.output and "Traceback" not in refused.output
    assert counts(db) == loaded
    # the same content from another path is accepted (nothing new to add: skipped)
    same = tmp_path / "same.toml"
    shutil.copyfile(SHIPPED, same)
    again = runner.invoke(app, ["run", str(data), "--db", str(db), "--ruleset", str(same)])
    assert again.exit_code == 0, again.output
    assert counts(db)["rulesets"] == 1

    listing = runner.invoke(app, ["rulesets", "--db", str(db)])
    assert listing.exit_code == 0, listing.output
    assert "core-2025" in listing.output and sha(SHIPPED)[:16] in listing.output

    # a what-if into a copy: the registry stays byte for byte as it was
    before = sha(db)
    whatif = tmp_path / "whatif.duckdb"
    result = runner.invoke(app, ["reassess", "--db", str(db), "--ruleset", "bhof-2022",
                                 "--into", str(whatif), "--batch-size", "5"])
    assert result.exit_code == 0, result.output
    assert sha(db) == before
    with duckdb.connect(str(whatif), read_only=True) as con:
        assert con.execute("SELECT status, ruleset, rows_read FROM runs ORDER BY started_at"
                           " DESC LIMIT 1").fetchall() == [("completed", "bhof-2022@3", 12)]
        assert con.execute("SELECT count(*) FROM assessments WHERE ruleset = 'bhof-2022@3'"
                           ).fetchall() == [(12,)]
    assert runner.invoke(app, ["reassess", "--db", str(db), "--ruleset", "bhof-2022",
                               "--into", str(whatif)]).exit_code == 1  # never overwritten

    compared = runner.invoke(app, ["compare", "--db", str(whatif), "core-2025", "bhof-2022",
                                   "--format", "json"])
    assert compared.exit_code == 0, compared.output
    answer = json.loads(compared.output)
    assert answer["patients"] == 4
    assert sum(c["patients"] for c in answer["cells"] if c["dimension"] == "treatment") == 4
    assert "P1" not in compared.output  # counts only

    forgot = runner.invoke(app, ["rulesets", "forget", "bhof-2022@3", "--db", str(whatif)])
    assert forgot.exit_code == 0, forgot.output
    with duckdb.connect(str(whatif), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM assessments WHERE ruleset = 'bhof-2022@3'"
                           ).fetchall() == [(0,)]
        assert con.execute("SELECT message FROM runs ORDER BY started_at DESC LIMIT 1"
                           ).fetchall()[0][0].startswith("forget: 12 assessments")
    refused = runner.invoke(app, ["rulesets", "forget", "core-2025@3", "--db", str(whatif)])
    assert refused.exit_code == 1 and "primary" in refused.output


def test_rules_diff_lists_parameters_and_lines(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "--ruleset", str(edited_copy(tmp_path)),
                                 "--diff", "core-2025"])
    assert result.exit_code == 0, result.output
    assert "1 parameters differ" in result.output
    assert "treatment.frax_hip_pct: 3.0 -> 4.0" in result.output
    assert "-frax_hip_pct = 3 " in result.output and "+frax_hip_pct = 4 " in result.output
