"""Library log lines go to a private file (mode 0600), never to the screen."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from exam_rows import REPO, make_row, write_csv
from lock_holder import write_lock_held

from pipelines.runtime import logs


def test_a_library_traceback_goes_to_the_private_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    library = logging.getLogger("sqlalchemy.pool.impl.test")
    library.addHandler(logging.StreamHandler(sys.stderr))  # as a library's own setup might
    logs.route_library_logging()
    try:
        raise RuntimeError("connection reset")  # noqa: TRY301 - a traceback to log
    except RuntimeError:
        library.error("Exception during reset or similar", exc_info=True)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "connection reset" not in captured.err
    path = logs.private_log_path()
    assert path is not None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "Exception during reset or similar" in Path(path).read_text(encoding="utf-8")


def test_a_lock_refusal_is_one_line_and_nothing_else(tmp_path: Path) -> None:
    """The real console script: the refusal is the only line on the screen."""
    db = tmp_path / "r.duckdb"
    duckdb.connect(str(db)).close()
    data = write_csv(tmp_path / "in.csv", [make_row()])
    dxa = Path(sys.executable).parent / "dxa"
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the suite's PREFECT_HOME: a warm start
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_LOGGING_LEVEL", None)  # the CLI's own default, not the suite's
    with write_lock_held(db):
        done = subprocess.run(
            [str(dxa), "run", str(data), "--db", str(db), "--lock-timeout", "1"],
            capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
        )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr[-3000:]
    assert "locked by another process" in lines[0]
    assert done.stdout.strip() == ""


def test_three_first_runs_on_an_empty_prefect_home_print_no_library_lines(
    tmp_path: Path,
) -> None:
    """Several first runs start Prefect's temporary server together on one empty home (a
    fresh machine, a cron minute shared by three registries): whatever the servers log
    while they race for the port and the database goes to the private log files."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    data = write_csv(tmp_path / "in.csv", [make_row()])
    dxa = Path(sys.executable).parent / "dxa"
    env = {**os.environ, "TMPDIR": str(tmp_path), "PREFECT_HOME": str(home)}
    for name in ("PREFECT_API_URL", "PREFECT_LOGGING_LEVEL", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"):
        env.pop(name, None)
    runs = [
        subprocess.Popen(  # noqa: S603 - our own console script
            [str(dxa), "run", str(data), "--db", str(tmp_path / f"r{i}.duckdb")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        for i in range(3)
    ]
    outputs = []
    try:
        for run in runs:
            out, err = run.communicate(timeout=540)
            outputs.append((run.returncode, out, err))
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
    library_line = re.compile(
        r"Traceback|^(DEBUG|INFO|WARNING|ERROR|CRITICAL)[: ]|\| (INFO|WARNING|ERROR) +\||"
        r"uvicorn|sqlalchemy|alembic|prefect\.", re.MULTILINE)
    for code, out, err in outputs:
        assert code == 0, err[-3000:]
        assert not library_line.search(out + err), (out + err)[-3000:]
    for i in range(3):
        with duckdb.connect(str(tmp_path / f"r{i}.duckdb"), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM exams").fetchone() == (1,)
