"""A run killed with SIGKILL stays `running` only until the next run opens the registry."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
from exam_rows import make_row, write_csv

from pipelines.flows.nightly import PlainStages, run_stages
from pipelines.ingest.settings import resolve_settings

#: A run that records its start, then hangs (as if stuck on a huge file) until killed.
STARTED_THEN_HANGS = """
import sys, time
from pipelines.registry.ledger import begin_run
from pipelines.registry.store import registry
with registry(sys.argv[1]) as con:
    begin_run(con, "killed-run", "core-2025@1")
    print("started", flush=True)
    time.sleep(600)
"""


def test_a_killed_run_is_marked_interrupted_by_the_next_run(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    hung = subprocess.Popen([sys.executable, "-c", STARTED_THEN_HANGS, str(db)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert hung.stdout is not None and hung.stdout.readline().strip() == "started"
    finally:
        os.kill(hung.pid, signal.SIGKILL)
        hung.wait(timeout=60)
    assert hung.returncode == -signal.SIGKILL
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("running",)]

    data = write_csv(tmp_path / "in.csv", [make_row()])
    summary = run_stages([str(data)], str(db), resolve_settings(), PlainStages(),
                         logging.getLogger("test"))
    assert summary.status == "completed"
    with duckdb.connect(str(db), read_only=True) as con:
        runs = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
        killed = con.execute("SELECT finished_at IS NOT NULL, message FROM runs"
                             " WHERE run_id = 'killed-run'").fetchone()
    assert runs == {"killed-run": "interrupted", summary.run_id: "completed"}
    assert killed[0] and "ended before the run recorded its end" in killed[1]
