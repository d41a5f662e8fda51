"""Readers never block the nightly run: a real second process holds the reporting copy open."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv

from pipelines.flows.nightly import registry_flow
from pipelines.registry.publish import reporting_copy_path

pytestmark = pytest.mark.usefixtures("prefect_harness")

READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    first = con.execute("SELECT count(*) FROM exams").fetchall()[0][0]
    print("open", first, flush=True)
    sys.stdin.readline()                    # hold the copy open until the run has finished
    n = con.execute("SELECT count(*) FROM exams").fetchall()[0][0]   # query the old copy
    print("still", n, flush=True)
    """
)


def test_reader_holding_the_copy_open_neither_blocks_nor_sees_a_partial_run(
    tmp_path: Path,
) -> None:
    db = tmp_path / "registry.duckdb"
    first = write_csv(tmp_path / "night1.csv", [make_row(exam_id=f"A{i}") for i in range(5)])
    registry_flow(paths=[str(first)], db=str(db))
    copy = reporting_copy_path(db)
    assert copy.exists()

    reader = subprocess.Popen([sys.executable, "-c", READER, str(copy)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert reader.stdout.readline().split() == ["open", "5"]
        second = write_csv(tmp_path / "night2.csv", [make_row(exam_id=f"B{i}") for i in range(7)])
        started = time.monotonic()
        summary = registry_flow(paths=[str(second)], db=str(db), lock_timeout_s=5)
        assert summary.status == "completed"
        assert time.monotonic() - started < 60
        reader.stdin.write("stop\n")
        reader.stdin.flush()
        assert reader.stdout.readline().split() == ["still", "5"]  # its view stayed whole
        assert reader.wait(timeout=30) == 0
    finally:
        reader.kill()
    with duckdb.connect(str(copy), read_only=True) as con:  # a new reader sees the new night
        assert con.execute("SELECT count(*) FROM exams").fetchall()[0][0] == 12
    assert not list(tmp_path.glob(".*tmp-*"))  # no half-written copy left behind
