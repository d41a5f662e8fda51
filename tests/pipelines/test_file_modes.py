"""Privacy by default: the registry 0600, the reporting copy 0640, staging files 0600.

Each check runs under a permissive umask (0022, the usual default) so that the modes come
from the code and not from the test's environment. Every command that writes the registry
is run as typed, and the registry's folder is looked at while its connection is still open
(DuckDB's write-ahead log and temporary files appear only then) and after it ended.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from exam_rows import make_row, write_csv

from pipelines.registry.publish import publish_reporting_copy, reporting_copy_path
from pipelines.registry.staging import staged, staging_file
from pipelines.registry.store import registry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def new_registry(folder: Path) -> Path:
    """A registry created (and closed) in `folder`."""
    db = folder / "registry.duckdb"
    with registry(db):
        pass
    return db


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_registry_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    db = new_registry(tmp_path)
    assert mode(db) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_a_mode_set_by_the_site_on_an_existing_registry_is_kept(tmp_path: Path) -> None:
    db = new_registry(tmp_path)
    db.chmod(0o640)
    with registry(db):
        pass
    assert mode(db) == 0o640


@pytest.mark.usefixtures("permissive_umask")
def test_the_reporting_copy_is_group_readable_not_world_readable(tmp_path: Path) -> None:
    db = new_registry(tmp_path)
    copy = publish_reporting_copy(db)
    assert copy == reporting_copy_path(db)
    assert mode(copy) == 0o640


@pytest.mark.usefixtures("permissive_umask")
def test_the_staging_database_is_private(tmp_path: Path) -> None:
    db = tmp_path / "registry.duckdb"
    with registry(db) as con, staged(con):
        path = staging_file(con)
        assert path.exists()
        assert mode(path) == 0o600


@pytest.mark.usefixtures("prefect_harness", "permissive_umask")
def test_a_run_leaves_no_file_readable_by_others(tmp_path: Path) -> None:
    from pipelines.flows.nightly import registry_flow

    data = tmp_path / "in"
    data.mkdir()
    export = write_csv(data / "night.csv", [make_row(exam_id=f"A{i}") for i in range(3)])
    out = tmp_path / "out"
    out.mkdir()
    db = out / "registry.duckdb"
    registry_flow(paths=[str(export)], db=str(db))
    modes = {p.name: mode(p) for p in out.iterdir()}
    assert modes["registry.duckdb"] == 0o600
    assert modes["registry.report.duckdb"] == 0o640
    assert modes["registry.report.html"] == 0o640
    assert all(not m & stat.S_IRWXO for m in modes.values()), modes



# --- every registry-writing command, through `dxa` as a user types it ---------------------

#: The commands, in order: each works on what the ones before it left in `out`.
COMMANDS: dict[str, list[str]] = {
    "run": ["run", "{data}", "--db", "{db}"],
    "reassess": ["reassess", "--db", "{db}", "--ruleset", "bhof-2022"],
    "reassess --into": ["reassess", "--db", "{db}", "--ruleset", "bhof-2022",
                        "--into", "{whatif}"],
    "rulesets primary": ["rulesets", "primary", "bhof-2022@3", "--db", "{db}"],
    "rulesets forget": ["rulesets", "forget", "core-2025@3", "--db", "{db}"],
}
#: The database each command writes through its open connection.
WRITES = {"run": "registry.duckdb", "reassess": "registry.duckdb",
          "reassess --into": "whatif.duckdb", "rulesets primary": "registry.duckdb",
          "rulesets forget": "registry.duckdb"}


def expected_mode(path: Path) -> int:
    """0640 for what a quality team reads (the reporting copy, the page), 0600 for every
    other file, 0700 for a folder (DuckDB's temporary files are in one)."""
    if path.is_dir():
        return 0o700
    if path.name.endswith((".report.duckdb", ".report.html")):
        return 0o640
    return 0o600


def wrong_modes(folder: Path) -> dict[str, str]:
    """Every file or folder under `folder` whose mode is not `expected_mode`."""
    return {str(p.relative_to(folder)): oct(mode(p)) for p in sorted(folder.rglob("*"))
            if mode(p) != expected_mode(p)}


def current_umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def spill(con) -> None:  # noqa: ANN001 - the command's own DuckDB connection
    """Make DuckDB write temporary files beside the registry (data larger than memory)."""
    con.execute("SET memory_limit = '40MB'")
    con.execute("SET threads = 1")
    for table in ("spill_a", "spill_b"):
        con.execute(f"CREATE TEMP TABLE {table} AS"
                    " SELECT range AS i, md5(range::VARCHAR) AS s FROM range(1000000)")


def unspill(con) -> None:  # noqa: ANN001
    for table in ("spill_a", "spill_b"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute("RESET memory_limit")
    con.execute("RESET threads")


class Watch:
    """What is in the registry's folder while a command's connection is open (its
    write-ahead log; DuckDB's temporary files, made to appear with `spill`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: set[str] = set()
        self.wrong: dict[str, str] = {}

    def look(self, con) -> None:  # noqa: ANN001 - the command's open connection
        spill(con)
        try:
            self.files |= {str(p.relative_to(self.folder)) for p in self.folder.rglob("*")}
            self.wrong |= wrong_modes(self.folder)
        finally:
            unspill(con)

    def before(self, real, con_at: int):  # noqa: ANN001, ANN201 - wraps any callable
        """`real`, after a look with the connection that is its argument `con_at`."""
        def looking(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.look(args[con_at])
            return real(*args, **kwargs)
        return looking

    def after(self, real, con_at: int):  # noqa: ANN001, ANN201 - wraps any callable
        """`real`, followed by a look with the connection that is its argument `con_at`."""
        def looking(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            done = real(*args, **kwargs)
            self.look(args[con_at])
            return done
        return looking


@pytest.fixture(scope="module")
def command_files(prefect_harness, tmp_path_factory) -> dict[str, dict[str, object]]:  # noqa: ANN001
    """Each command run under umask 0022, as typed: its exit code and output, what was
    seen while its connection was open, and the wrong modes left after it."""
    from prefect.settings import get_current_settings
    from typer.testing import CliRunner

    from pipelines.cli.commands import app
    from pipelines.registry import duckdb_file, ledger, rulesets

    folder = tmp_path_factory.mktemp("modes")
    data = write_csv(folder / "in.csv", [
        make_row(exam_id=f"E{i}", patient_id=f"P{i % 4}", exam_date=f"202{i % 5}-03-01")
        for i in range(12)])
    out = folder / "out"
    out.mkdir()
    values = {"data": str(data), "db": str(out / "registry.duckdb"),
              "whatif": str(out / "whatif.duckdb")}
    api = str(get_current_settings().api.url)  # the harness's: no temporary server each
    results: dict[str, dict[str, object]] = {}
    previous = os.umask(0o022)
    try:
        for name, words in COMMANDS.items():
            watch = Watch(out)
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("PREFECT_API_URL", api)
                # after the last write of a command's connection, and before a
                # publication's checkpoint folds the log into the file
                patch.setattr(ledger, "finish_run", watch.after(ledger.finish_run, 0))
                patch.setattr(rulesets, "set_primary", watch.after(rulesets.set_primary, 0))
                patch.setattr(duckdb_file, "publish_reporting_copy",
                              watch.before(publish_reporting_copy, 1))
                done = CliRunner().invoke(app, [w.format(**values) for w in words])
            results[name] = {"exit": done.exit_code, "output": done.output,
                             "umask": current_umask(), "watch": watch,
                             "wrong after": wrong_modes(out)}
    finally:
        os.umask(previous)
    return results


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_registry_command_leaves_no_file_readable_by_others(
    command_files: dict[str, dict[str, object]], command: str,
) -> None:
    result = command_files[command]
    assert result["exit"] == 0, result["output"]
    assert result["umask"] == 0o022  # the command's private umask ended with it
    watch = result["watch"]
    assert isinstance(watch, Watch)
    # looked at while its connection was open: the write-ahead log, the temporary files
    written = WRITES[command]
    assert f"{written}.wal" in watch.files, sorted(watch.files)
    assert any(f.startswith(f"{written}.tmp/") for f in watch.files), sorted(watch.files)
    assert watch.wrong == {}
    assert result["wrong after"] == {}


def test_a_prefect_home_dxa_creates_is_private(tmp_path: Path) -> None:
    """The real console script, in a fresh process under umask 0022, with a Prefect home
    that does not exist yet: Prefect's database (each flow run's parameters: paths) and
    everything else in the home is its owner's only, and so are the registry's folder
    and what the command left in the temporary folder."""
    data = write_csv(tmp_path / "in.csv", [make_row(exam_id=f"A{i}") for i in range(3)])
    out = tmp_path / "out"
    out.mkdir()
    home = tmp_path / "prefect-home"
    temporary = tmp_path / "tmp"  # its private logs: the server's, the libraries'
    temporary.mkdir()
    env = {**os.environ, "PREFECT_HOME": str(home), "TMPDIR": str(temporary)}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(  # noqa: S603 - the project's own command
        [str(Path(sys.executable).parent / "dxa"), "run", str(data),
         "--db", str(out / "registry.duckdb")],
        capture_output=True, text=True, timeout=300, env=env, umask=0o022, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert mode(home) == 0o700
    assert "prefect.db" in {p.name for p in home.iterdir()}
    assert wrong_modes(home) == {}
    assert wrong_modes(out) == {}
    assert wrong_modes(temporary) == {}  # the server's log, if any, and the libraries'


@pytest.mark.usefixtures("permissive_umask")
def test_the_details_of_an_error_are_private(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.runtime.messages import write_details

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    path = Path(write_details(ValueError("a row's value")))
    assert path.parent == tmp_path and path.name.startswith("dxa-error-")
    assert mode(path) == 0o600
