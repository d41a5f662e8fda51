"""The cron wrapper: every line stamped with the time, dxa's exit code passed through."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from exam_rows import make_row, write_csv

REPO = Path(__file__).resolve().parents[2]
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} ")


def nightly(*args: str, home: Path, cwd: Path | None = None,
            script: Path = REPO / "scripts" / "nightly.sh") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    env.pop("DXA_DB", None)
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(script), *args], capture_output=True, text=True,
        timeout=400, env=env, check=False, cwd=cwd,
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


def test_relative_paths_are_read_from_the_callers_folder(tmp_path: Path) -> None:
    """As cron calls it from elsewhere (here: through a link to the script): `incoming`
    and `--db r.duckdb` are the caller's, never the repository's."""
    caller = tmp_path / "site"
    (caller / "incoming").mkdir(parents=True)
    write_csv(caller / "incoming" / "night.csv", [make_row(exam_id="E1")])
    link = tmp_path / "bin" / "dxa-nightly"
    link.parent.mkdir()
    link.symlink_to(REPO / "scripts" / "nightly.sh")
    done = nightly("incoming", "--db", "r.duckdb", home=tmp_path / "prefect-home", cwd=caller,
                   script=link)
    assert done.returncode == 0, done.stdout
    assert all(STAMP.match(line) for line in done.stdout.splitlines())
    assert "no such file or folder" not in done.stdout
    assert (caller / "r.duckdb").is_file() and (caller / "r.report.duckdb").is_file()
    assert not (REPO / "r.duckdb").exists()

    missing = nightly("no-such-folder", "--db", "r.duckdb", home=tmp_path / "prefect-home",
                      cwd=caller)
    assert missing.returncode == 1
    assert missing.stdout.splitlines()[-1].endswith(
        "dxa: error: no such file or folder: no-such-folder")
