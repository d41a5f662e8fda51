"""`dxa run --move-failed DIR`: inputs that failed as a whole move aside, nothing else."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.flows.move_failed import MoveTargetRefused, check_target, move_failed_inputs
from pipelines.registry.outcome import FileOutcome, RunSummary
from schemas.vocabulary import FileAction
from sources.detect import LOOP, SEEN

runner = CliRunner()


def _summary(*outcomes: tuple[Path, FileAction, str | None]) -> RunSummary:
    files = [FileOutcome(path=str(p), status=status, error=error)
             for p, status, error in outcomes]
    return RunSummary(run_id="r", ruleset="core-2025@3", db_path="r.duckdb", files=files)


def _incoming(tmp_path: Path) -> Path:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "scan.bin").write_bytes(bytes(range(256)))
    (incoming / "empty.csv").write_bytes(b"")
    return incoming


def test_failed_files_and_folders_move_whole_and_the_rest_stays(tmp_path: Path) -> None:
    incoming = _incoming(tmp_path)
    nhanes = incoming / "nhanes"
    nhanes.mkdir()
    (nhanes / "P_DEMO.XPT").write_bytes(b"not a transport file")
    good = write_csv(incoming / "good.csv", [make_row()])
    target = tmp_path / "failed"
    summary = _summary((incoming / "empty.csv", FileAction.FAILED, "empty file"),
                       (good, FileAction.LOADED, None),
                       (nhanes, FileAction.FAILED, "P_DEMO.XPT: no DXXFEM file beside it"),
                       (incoming / "scan.bin", FileAction.FAILED, "unrecognised input"))
    move_failed_inputs(summary, target)
    assert [f.moved_to for f in summary.files] == [
        str(target / "empty.csv"), None, str(target / "nhanes"), str(target / "scan.bin")]
    assert sorted(p.name for p in incoming.iterdir()) == ["good.csv"]
    assert (target / "scan.bin").read_bytes() == bytes(range(256))
    assert (target / "nhanes" / "P_DEMO.XPT").read_bytes() == b"not a transport file"
    assert stat.S_IMODE(target.stat().st_mode) == 0o700  # created for patient files


def test_a_name_already_taken_gets_a_suffix_and_nothing_is_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "failed"
    target.mkdir()
    (target / "scan.bin").write_text("an earlier night's", encoding="utf-8")
    (target / "scan-1.bin").write_text("and another", encoding="utf-8")
    (target / "nhanes").mkdir()
    incoming = _incoming(tmp_path)
    (incoming / "nhanes").mkdir()
    summary = _summary((incoming / "scan.bin", FileAction.FAILED, "unrecognised input"),
                       (incoming / "nhanes", FileAction.FAILED, "no DEMO"))
    move_failed_inputs(summary, target)
    assert [f.moved_to for f in summary.files] == [str(target / "scan-2.bin"),
                                                   str(target / "nhanes-1")]
    assert (target / "scan.bin").read_text(encoding="utf-8") == "an earlier night's"
    assert (target / "scan-1.bin").read_text(encoding="utf-8") == "and another"
    assert (target / "scan-2.bin").read_bytes() == bytes(range(256))


def test_links_not_followed_and_inputs_given_twice_are_not_moved_twice(tmp_path: Path) -> None:
    incoming = _incoming(tmp_path)
    (incoming / "loop").symlink_to(incoming)
    target = tmp_path / "failed"
    summary = _summary((incoming, FileAction.FAILED, SEEN),  # `dxa run incoming incoming`
                       (incoming / "loop", FileAction.FAILED, LOOP),
                       (incoming / "scan.bin", FileAction.FAILED, "unrecognised input"),
                       (incoming / "scan.bin", FileAction.FAILED, "unrecognised input"))
    move_failed_inputs(summary, target)
    assert [f.moved_to for f in summary.files] == [None, None, str(target / "scan.bin"),
                                                   str(target / "scan.bin")]
    assert sorted(p.name for p in incoming.iterdir()) == ["empty.csv", "loop"]
    assert sorted(p.name for p in target.iterdir()) == ["scan.bin"]


def test_an_input_that_cannot_be_moved_stays_with_a_note(tmp_path: Path) -> None:
    incoming = _incoming(tmp_path)
    summary = _summary((incoming / "gone.csv", FileAction.FAILED, "empty file"))
    move_failed_inputs(summary, tmp_path / "failed")
    assert summary.files[0].moved_to is None
    assert summary.files[0].notes == ["not moved: no longer there"]


@pytest.mark.parametrize(("where", "problem"), [
    ("incoming/failed", "inside the input folder {incoming} (the next run would read what "
                        "it moved there)"),
    ("incoming", "inside the input folder {incoming} (the next run would read what it "
                 "moved there)"),
    ("incoming/scan.bin", "not a folder"),
    ("no/such/failed", "the folder {tmp}/no/such does not exist"),
])
def test_a_target_that_would_not_work_is_refused(tmp_path: Path, where: str,
                                                 problem: str) -> None:
    incoming = _incoming(tmp_path)
    target = tmp_path / where
    with pytest.raises(MoveTargetRefused) as refused:
        check_target(target, [incoming])
    expected = problem.format(incoming=incoming, tmp=tmp_path)
    assert str(refused.value) == f"--move-failed {target}: {expected}"


def test_a_target_beside_the_inputs_is_accepted(tmp_path: Path) -> None:
    incoming = _incoming(tmp_path)
    check_target(tmp_path / "failed", [incoming])  # missing: created when needed
    check_target(tmp_path / "failed", [incoming / "scan.bin"])


def test_dxa_run_moves_the_failed_inputs_after_recording_them(
    tmp_path: Path, prefect_harness
) -> None:
    incoming = _incoming(tmp_path)
    write_csv(incoming / "good.csv", [make_row(exam_id="E1")])
    write_csv(incoming / "some-bad-rows.csv", [make_row(exam_id="E2"),
                                               make_row(exam_id="E3", sex="X")])
    target, db = tmp_path / "failed", tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(incoming), "--db", str(db),
                                 "--move-failed", str(target)])
    assert result.exit_code == 2, result.output  # inputs failed: still 2
    moved = [line for line in result.output.splitlines() if line.startswith("moved:")]
    assert moved == [f"moved: {incoming / 'empty.csv'} -> {target / 'empty.csv'}",
                     f"moved: {incoming / 'scan.bin'} -> {target / 'scan.bin'}"]
    assert sorted(p.name for p in incoming.iterdir()) == ["good.csv", "some-bad-rows.csv"]
    with duckdb.connect(str(db), read_only=True) as con:  # recorded where it was read
        failed = con.execute("SELECT path FROM source_files WHERE status = 'failed' "
                             "ORDER BY path").fetchall()
    assert failed == [(str(incoming / "empty.csv"),), (str(incoming / "scan.bin"),)]

    (incoming / "scan.bin").write_bytes(b"\x00\x01 the next night's")
    again = runner.invoke(app, ["run", str(incoming), "--db", str(db), "--json",
                                "--move-failed", str(target)])
    assert again.exit_code == 2, again.output
    files = {Path(f["path"]).name: f["moved_to"] for f in json.loads(again.output)["files"]}
    assert files == {"good.csv": None, "scan.bin": str(target / "scan-1.bin"),
                     "some-bad-rows.csv": None}
    assert (target / "scan.bin").read_bytes() == bytes(range(256))


def test_dxa_run_refuses_a_target_inside_the_incoming_folder(tmp_path: Path) -> None:
    incoming = _incoming(tmp_path)
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(incoming), "--db", str(db),
                                 "--move-failed", str(incoming / "failed")])
    assert result.exit_code == 1
    assert result.output == (f"dxa: error: --move-failed {incoming / 'failed'}: inside the "
                             f"input folder {incoming} (the next run would read what it "
                             "moved there)\n")
    assert not db.exists()
    assert sorted(p.name for p in incoming.iterdir()) == ["empty.csv", "scan.bin"]
