"""Several sites write one DuckLake at once; readers read while they write.

Real `dxa` processes (each its own Prefect home, as on its own machine) load into one lake
on the session's PostgreSQL server: the counts are exact, no exam id is held twice, a
conflicting resend is quarantined, a writer killed with -9 leaves nothing of its file and
a rerun completes, and a reader during a load sees the registry before or after a file,
never part of one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from exam_rows import make_row, write_csv
from postgres_server import PostgresServer

from pipelines.registry.ducklake import DuckLakeRegistry
from pipelines.registry.lake_address import LAKE_PREFIX

REPO = Path(__file__).resolve().parents[2]
DXA = Path(sys.executable).parent / "dxa"


def _site_file(path: Path, site: str, own: int, shared: int, conflicting: int) -> Path:
    """`own` exams of the site, `shared` exams both sites send identically, and
    `conflicting` exam ids both sites send with other content (a T-score of its own)."""
    t_score = "-2.1" if site == "A" else "-2.6"
    rows = ([make_row(exam_id=f"{site}-{i}", patient_id=f"P{site}-{i}") for i in range(own)]
            + [make_row(exam_id=f"S-{i}", patient_id=f"PS-{i}") for i in range(shared)]
            + [make_row(exam_id=f"C-{i}", patient_id=f"PC-{i}", femoral_neck_t=t_score)
               for i in range(conflicting)])
    return write_csv(path, rows)


def _start(site_home: Path, csv: Path, db: str, data: Path) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_HOME": str(site_home)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen([str(DXA), "run", str(csv), "--db", db, "--data-path", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)


def _finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, (out + err)[-2000:]


def _one(db: str, sql: str) -> tuple:
    with DuckLakeRegistry(db).reader() as con:
        return con.execute(sql).fetchone()


def test_two_sites_load_at_once_exactly(postgres: PostgresServer, tmp_path: Path) -> None:
    db = LAKE_PREFIX + postgres.conninfo(postgres.fresh_database())
    a = _site_file(tmp_path / "site-a.csv", "A", own=400, shared=60, conflicting=25)
    b = _site_file(tmp_path / "site-b.csv", "B", own=300, shared=60, conflicting=25)
    sites = [_start(tmp_path / f"home-{n}", f, db, tmp_path / "lake") for n, f in
             (("a", a), ("b", b))]
    for site in sites:
        _finish(site)
    assert _one(db, "SELECT count(*), count(DISTINCT exam_id) FROM exams") == (
        400 + 300 + 60 + 25, 400 + 300 + 60 + 25)
    assert _one(db, "SELECT count(*) FROM quarantine"
                " WHERE list_contains(reason_codes, 'REGISTRY_ID_CONFLICT')") == (25,)
    assert _one(db, "SELECT count(*), sum(rows_loaded), sum(rows_duplicate),"
                " sum(rows_quarantined) FROM source_files WHERE status = 'loaded'") == (
        2, 400 + 300 + 60 + 25, 60, 25)
    assert _one(db, "SELECT count(*) FROM assessments") == (785,)
    assert _one(db, "SELECT count(*) FROM runs WHERE status = 'completed'") == (2,)


def _parquet_files(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.parquet")) if folder.exists() else 0


def _watch_until_writing(db: str, data: Path, process: subprocess.Popen) -> set[int]:
    """The exam counts a reader sees until the writer's run is recorded and Parquet files
    of its file are being written (its transaction under way, not committed); the writer
    is then killed."""
    before: int | None = None
    seen: set[int] = set()
    deadline = time.monotonic() + 300
    with DuckLakeRegistry(db).reader() as reader:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the writer ended before it was caught loading"
            seen.add(reader.execute("SELECT count(*) FROM exams").fetchone()[0])
            if before is None and reader.execute(
                    "SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]:
                before = _parquet_files(data)
            if before is not None and _parquet_files(data) > before:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                seen.add(reader.execute("SELECT count(*) FROM exams").fetchone()[0])
                return seen
            time.sleep(0.05)
    raise AssertionError("the writer never started writing")


def test_a_killed_writer_leaves_nothing_and_readers_see_only_commits(
        postgres: PostgresServer, tmp_path: Path) -> None:
    db = LAKE_PREFIX + postgres.conninfo(postgres.fresh_database())
    small = _site_file(tmp_path / "site-b.csv", "B", own=200, shared=0, conflicting=0)
    _finish(_start(tmp_path / "home-b", small, db, tmp_path / "lake"))
    big = _site_file(tmp_path / "site-a.csv", "A", own=300_000, shared=0, conflicting=0)
    other = _start(tmp_path / "home-b", _site_file(tmp_path / "site-b2.csv", "B2", own=50,
                                                   shared=0, conflicting=0),
                   db, tmp_path / "lake")
    victim = _start(tmp_path / "home-a", big, db, tmp_path / "lake")
    _finish(other)  # the other site loads meanwhile, unaffected
    seen = _watch_until_writing(db, tmp_path / "lake", victim)
    assert seen <= {200, 250}  # committed states only: before or after the other site's file
    assert _one(db, "SELECT count(*), count(*) FILTER (exam_id LIKE 'A-%') FROM exams") == (
        250, 0)
    _finish(_start(tmp_path / "home-a", big, db, tmp_path / "lake"))  # the rerun
    assert _one(db, "SELECT count(*), count(DISTINCT exam_id) FROM exams") == (
        300_250, 300_250)
    assert _one(db, "SELECT count(*) FILTER (status = 'interrupted'),"
                " count(*) FILTER (status = 'completed') FROM runs") == (1, 3)
