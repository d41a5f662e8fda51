"""Exported files are private (0600) whatever the umask, whole or absent, and a refused
write (a full disk) is one line naming the file.

Each check runs under a permissive umask (0022, the usual default) so that the modes come
from the code and not from the test's environment; the temporary file an export writes
before its rename is checked as it was created, before any chmod.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from sample_registry import shared_sample_copy
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.research import TABLES
from pipelines.readers.worklists import export_worklist
from pipelines.runtime import export_files

runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_sample_copy(tmp_path_factory)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def created_modes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The mode of each temporary file as written, taken just before it is made private."""
    seen: dict[str, int] = {}
    original = export_files.make_private

    def record(path: Path) -> None:
        seen[Path(path).name] = mode(Path(path))
        original(path)

    monkeypatch.setattr(export_files, "make_private", record)
    return seen


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_a_worklist_is_private_from_its_first_byte(copy: Path, tmp_path: Path, suffix: str,
                                                   created_modes: dict[str, int]) -> None:
    out = tmp_path / f"overdue{suffix}"
    out.write_text("an older list, world-readable")
    out.chmod(0o644)
    export_worklist("overdue", copy, out)
    assert mode(out) == 0o600
    assert list(created_modes.values()) == [0o600]  # the temporary file, as created
    assert _only(tmp_path) == [out.name]  # no temporary file left beside it


@pytest.mark.usefixtures("permissive_umask")
def test_the_research_extract_files_are_private(copy: Path, tmp_path: Path,
                                                created_modes: dict[str, int]) -> None:
    key = tmp_path / "keys" / "research.key"
    key.parent.mkdir()
    key.write_text(secrets.token_hex(32), encoding="ascii")
    out = tmp_path / "out" / "extract.parquet"
    out.parent.mkdir()
    result = runner.invoke(app, ["export", "research", "--db", str(copy), "--pseudonym-key",
                                 str(key), "--output", str(out)])
    assert result.exit_code == 0, result.output
    files = [out.with_name(f"extract.{table}.parquet") for table in TABLES]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert sorted(created_modes.values()) == [0o600] * len(TABLES)
    assert _only(out.parent) == sorted(f.name for f in files)


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown", "html"])
def test_a_saved_report_is_private(copy: Path, tmp_path: Path, fmt: str,
                                   created_modes: dict[str, int]) -> None:
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(app, ["report", "--db", str(copy), "--format", fmt,
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600 and list(created_modes.values()) == [0o600]
    assert _only(tmp_path) == [out.name]


def _no_space(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "/data/PATIENT-4711")


def _polars_no_space(*_args: object, **_kwargs: object) -> None:
    raise pl.exceptions.ComputeError("failed to write PATIENT-4711: No space left on device"
                                     " (os error 28)")


def _duckdb_no_space(*_args: object, **_kwargs: object) -> None:
    raise duckdb.IOException('IO Error: Could not write file "/x/PATIENT-4711": No space '
                             "left on device")


@pytest.mark.parametrize(("suffix", "target", "error"), [
    (".csv", (pl.DataFrame, "write_csv"), _polars_no_space),
    (".parquet", (pl.DataFrame, "write_parquet"), _no_space),
    (".xlsx", (Path, "write_bytes"), _no_space),
])
def test_a_full_disk_is_one_line_and_leaves_no_file(
    copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str,
    target: tuple[type, str], error: object,
) -> None:
    monkeypatch.setattr(*target, error)
    out = tmp_path / f"overdue{suffix}"
    result = runner.invoke(app, ["export", "overdue", "--db", str(copy), "--output", str(out)])
    assert result.exit_code == 1
    assert result.output.strip() == f"dxa: error: cannot write {out}: no space left on device"
    assert _only(tmp_path) == []


def test_a_full_disk_during_the_research_extract_leaves_no_file(
    copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.readers import research

    key = tmp_path / "research.key"
    key.write_text(secrets.token_hex(32), encoding="ascii")
    calls = {"n": 0}
    real = research.extract_columns

    def second_table_full(con: duckdb.DuckDBPyConnection, table: str):  # noqa: ANN202
        calls["n"] += 1
        if calls["n"] == 2:  # the first table's file is written by then
            _duckdb_no_space()
        return real(con, table)

    monkeypatch.setattr(research, "extract_columns", second_table_full)
    out = tmp_path / "extract.parquet"
    result = runner.invoke(app, ["export", "research", "--db", str(copy), "--pseudonym-key",
                                 str(key), "--output", str(out)])
    assert result.exit_code == 1
    second = out.with_name(f"extract.{TABLES[1]}.parquet")
    assert result.output.strip() == (f"dxa: error: cannot write {second}: no space left on"
                                     " device")
    assert _only(tmp_path) == ["research.key"]


def test_an_unwritable_folder_is_one_line(copy: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/x")

    monkeypatch.setattr(Path, "write_text", refused)
    out = tmp_path / "report.csv"
    result = runner.invoke(app, ["report", "--db", str(copy), "--format", "csv",
                                 "--output", str(out)])
    assert result.exit_code == 1
    assert result.output.strip() == f"dxa: error: cannot write {out}: permission denied"
