"""A full disk: said as "no space left on device", never a run reported completed."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import polars as pl
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.registry import ledger, publish
from pipelines.runtime.messages import safe_reason

runner = CliRunner()
SECRET = "PATIENT-4711"


def _full_disk(*_args, **_kwargs):
    raise duckdb.TransactionException(
        f'TransactionContext Error: Failed to commit: could not write file "/data/{SECRET}'
        '.wal": No space left on device'
    )


def test_the_reason_names_the_full_disk_and_no_data() -> None:
    try:
        _full_disk()
    except duckdb.TransactionException as exc:
        assert safe_reason(exc) == "TransactionException: no space left on device"
    full = OSError(errno.ENOSPC, "No space left on device", f"/data/{SECRET}")
    assert safe_reason(full) == "OSError: no space left on device"


def _rollback() -> None:
    raise duckdb.TransactionException(
        "TransactionContext Error: cannot rollback - no transaction is active")


def _rollback_refused_after_a_full_disk() -> None:
    """What `transaction()` raises when the ROLLBACK after a full disk is refused too:
    the rollback's error, whose context is the full disk."""
    try:
        _full_disk()
    except duckdb.TransactionException:
        _rollback()


@pytest.mark.parametrize(("raise_it", "reason"), [
    (_rollback_refused_after_a_full_disk, "TransactionException: no space left on device"),
    (lambda: _raise(pl.exceptions.ComputeError(f"writing {SECRET}.csv: No space left on device"
                                               " (os error 28)")),
     "ComputeError: no space left on device"),
    (lambda: _raise(duckdb.FatalException(
        "FATAL Error: Failed to create checkpoint because of error: Could not write file "
        f'"/data/{SECRET}.duckdb": No space left on device')),
     "FatalException: no space left on device"),
    (lambda: _raise(duckdb.TransactionException(
        f"TransactionContext Error: Conflict on update of {SECRET}")),
     "TransactionException"),
])
def test_a_full_disk_is_named_wherever_in_the_chain_it_is(raise_it, reason: str) -> None:
    """The reason is the operating system's words for ENOSPC, never the library's text; an
    error that is not about space stays its type alone."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the types differ per case
        raise_it()
    assert safe_reason(caught.value) == reason


def _raise(exc: Exception) -> None:
    raise exc


@pytest.mark.usefixtures("prefect_harness")
def test_a_commit_refused_for_space_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "record_file", _full_disk)  # inside the file's transaction
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [make_row(patient_id=SECRET)])
    result = runner.invoke(app, ["run", str(data), "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "no space left on device" in result.output
    assert SECRET not in result.output and "completed" not in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status, message FROM runs").fetchall() == [
            ("failed", "TransactionException: no space left on device")]
        assert con.execute("SELECT count(*) FROM exams").fetchone()[0] == 0


@pytest.mark.usefixtures("prefect_harness")
def test_a_reporting_copy_refused_for_space_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "copy"))

    monkeypatch.setattr(publish.shutil, "copyfile", no_space)
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [make_row()])
    result = runner.invoke(app, ["run", str(data), "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "no space left on device" in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
