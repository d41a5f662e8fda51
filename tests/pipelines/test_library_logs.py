"""Library log lines go to a private file (mode 0600), never to the screen."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from exam_rows import REPO, make_row, write_csv
from lock_holder import write_lock_held

from pipelines import logs


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
