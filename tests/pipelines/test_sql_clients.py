"""Any SQL client opens the reporting copy: the PyPI DuckDB CLI (1.5) runs every README query.

DuckDB 2.0 writes files older readers refuse ("version number 69, but we can only read
versions between 64 and 68"). The registry and its reporting copy are written in the 1.4
LTS storage format; these tests open them with the real 1.5 CLI binary that the dev
dependency `duckdb-cli` installs into the venv.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from sample_registry import shared_sample_copy

from pipelines.registry import store
from pipelines.registry.publish import opens_in_lts, publish_reporting_copy, storage_version
from pipelines.registry.store import registry

README = Path(__file__).resolve().parents[2] / "README.md"


def duckdb_cli() -> Path:
    """The `duckdb` executable of the venv's `duckdb-cli` package (a locked dev dependency)."""
    found = Path(sys.executable).parent / "duckdb"
    if not found.exists():
        pytest.skip(f"no DuckDB CLI at {found}: the dev dependency duckdb-cli is not "
                    "installed (run ./scripts/bootstrap.sh)")
    return found


def cli(database: Path, sql: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(duckdb_cli()), "-readonly", str(database), sql], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def readme_cli_commands() -> list[str]:
    """Every `duckdb ...` line of the README's bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip().startswith("duckdb ")]


def readme_view_queries() -> list[str]:
    """The example column of the README's table of report views."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Report views", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"\| `((?:SELECT|WITH|FROM) [^`]+)` \|", section)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:  # noqa: ANN001
    return shared_sample_copy(tmp_path_factory)


def test_the_cli_is_the_pypi_1_5_release() -> None:
    done = subprocess.run([str(duckdb_cli()), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("v1.5."), done.stdout


def test_registry_and_copy_are_in_the_lts_storage_format(copy: Path) -> None:
    registry_file = copy.with_name("registry.duckdb")
    for path in (registry_file, copy):
        with duckdb.connect(str(path), read_only=True) as con:
            assert storage_version(con) == "v1.4.0+"
            exams = con.sql("SELECT count(*) FROM exams").fetchall()[0][0]
    for path in (registry_file, copy):
        done = cli(path, "SELECT count(*) AS exams FROM exams")
        assert done.returncode == 0, done.stderr
        assert f"│ {exams} │" in done.stdout.replace("  ", " "), done.stdout


def test_every_readme_cli_example_opens_the_copy_and_answers(copy: Path) -> None:
    commands = readme_cli_commands()
    assert len(commands) >= 4, commands
    for command in commands:
        assert command.startswith('duckdb -readonly registry.report.duckdb "'), command
        args = shlex.split(command)  # the command as written, run with the 1.5 binary
        done = subprocess.run([str(duckdb_cli()), *args[1:]], cwd=copy.parent,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and not done.stderr, f"{command}\n{done.stderr}"
        assert done.stdout.strip(), command


def test_every_report_view_example_runs_in_the_1_5_cli(copy: Path) -> None:
    queries = readme_view_queries()
    assert len(queries) >= 12, queries
    assert any("v_scanner_monthly" in q for q in queries)
    for sql in queries:
        done = cli(copy, sql)
        assert done.returncode == 0 and not done.stderr, f"{sql}\n{done.stderr}"


def test_every_view_and_macro_of_the_copy_binds_in_the_1_5_cli(copy: Path) -> None:
    with duckdb.connect(str(copy), read_only=True) as con:
        views = [r[0] for r in con.sql(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
    assert "v_scanner_monthly" in views and "measurements" in views
    sql = "; ".join(f"SELECT count(*) FROM {view}" for view in views)
    sql += "; SELECT count(*) FROM followup_overdue(DATE '2026-01-01')"
    sql += "; SELECT count(*) FROM significant_loss_as_of(DATE '2026-01-01')"
    done = cli(copy, sql)
    assert done.returncode == 0 and not done.stderr, done.stderr


def test_a_registry_in_a_newer_format_than_lts_gets_a_converted_copy(
    tmp_path: Path, monkeypatch
) -> None:
    """A registry created in DuckDB 1.5's own format (newer than 1.4 LTS) keeps its format;
    its reporting copy is rewritten in the LTS format, with every table, view and macro."""
    db = tmp_path / "old.duckdb"
    monkeypatch.setattr(store, "STORAGE_VERSION", "latest")
    with registry(db) as con:
        con.execute("INSERT INTO runs (run_id, started_at, status, ruleset)"
                    " VALUES ('r1', now(), 'completed', 'core-2025@1')")
        assert not opens_in_lts(storage_version(con))
    monkeypatch.undo()
    copy = publish_reporting_copy(db)
    with duckdb.connect(str(copy), read_only=True) as con:
        assert storage_version(con) == "v1.4.0+"
        assert con.sql("SELECT run_id FROM runs").fetchall() == [("r1",)]
    done = cli(copy, "SELECT count(*) FROM v_run_history; "
                     "SELECT count(*) FROM latest_assessment_as_of(DATE '2026-01-01')")
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert not list(tmp_path.glob(".*tmp-*")), "no temporary file left behind"
    with duckdb.connect(str(db), read_only=True) as con:
        assert not opens_in_lts(storage_version(con))  # the registry itself is untouched


def test_a_registry_in_duckdb_2_format_is_refused_in_one_line(tmp_path: Path) -> None:
    """DuckDB 1.5 cannot open DuckDB 2.0's storage format (version number 999 in the
    header): every command says so in one line, before DuckDB tries."""
    from typer.testing import CliRunner

    from pipelines.cli.commands import app

    db = tmp_path / "v2.duckdb"
    header = bytes(8) + b"DUCK" + (999).to_bytes(8, "little") + bytes(4096 - 20)
    db.write_bytes(header)
    for args in (["report", "--db", str(db)], ["rulesets", "--db", str(db)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "DuckDB 2.0's storage format" in lines[0], result.output
