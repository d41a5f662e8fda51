"""The cron wrapper: every line stamped with the time, dxa's exit code passed through."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from exam_rows import make_row, write_csv

REPO = Path(__file__).resolve().parents[2]
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} ")


def nightly(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(REPO / "scripts" / "nightly.sh"), *args], capture_output=True, text=True,
        timeout=400, env=env, check=False,
    )


def test_every_line_is_stamped_and_the_exit_code_is_dxas(tmp_path: Path) -> None:
    empty = tmp_path / "incoming"
    empty.mkdir()
    home = tmp_path / "prefect-home"
    done = nightly(str(empty), "--db", str(tmp_path / "r.duckdb"), home=home)
    assert done.returncode == 2, done.stdout
    lines = done.stdout.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines
    assert any("no exports found in" in line for line in lines)

    write_csv(empty / "night.csv", [make_row(exam_id=f"E{i}") for i in range(2)])
    done = nightly(str(empty), "--db", str(tmp_path / "r.duckdb"), home=home)
    assert done.returncode == 0, done.stdout
    assert all(STAMP.match(line) for line in done.stdout.splitlines())
