"""How `dxa measures` grows with the registry: the command a quality team runs, timed on
registries of two sizes, beside a floor measured in the same run.

    .venv/bin/python bench/bench_measures.py --sizes 100k,1m --repeats 2

Each size's registry is loaded once by `dxa run` from `bench_history`'s file (patients of
3-5 exams, so every measure has repeat exams to count). Then, alternating, each a fresh
process: `dxa measures --db R --period 2016` (the measures of a year and their 8-quarter
trend), and the floor: a Python process that opens the same registry read-only with
DuckDB and counts its assessments (interpreter start, DuckDB import, opening the file).
Wall time from outside, peak RSS from `os.wait4`. Results: a table of medians and
`bench/results/<date>-measures.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_history import history_csv
from bench.cases import CACHE, RESULTS, ROOT, machine, parse_size, size_label

DXA = str(ROOT / ".venv" / "bin" / "dxa")
FLOOR = ("import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True);"
         " con.sql('SELECT count(*) FROM assessments').fetchall()")


def _timed(cmd: list[str]) -> dict[str, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process."""
    env = {**os.environ, "PREFECT_HOME": str(CACHE / "prefect-home")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{cmd[0]} exited with status {status}")
    return {"wall_s": time.perf_counter() - start, "peak_rss_mib": usage.ru_maxrss / 1024}


def _registry(n: int) -> Path:
    """The registry of n exams (loaded by `dxa run` when missing)."""
    db = CACHE / f"measures-{n}.duckdb"
    if not db.exists():
        _timed([DXA, "run", str(history_csv(n)), "--db", str(db)])
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for n in (parse_size(s) for s in args.sizes.split(",")):
        db = _registry(n)
        runs: dict[str, list[dict[str, float]]] = {"measures": [], "floor": []}
        for _ in range(args.repeats):
            runs["measures"].append(_timed([DXA, "measures", "--db", str(db),
                                            "--period", "2016"]))
            runs["floor"].append(_timed([sys.executable, "-c", FLOOR, str(db)]))
        med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "peak_rss_mib")}
               for k, v in runs.items()}
        med["above_floor_s"] = med["measures"]["wall_s"] - med["floor"]["wall_s"]
        results[size_label(n)] = {"runs": runs, "medians": med}
        print(f"{size_label(n)}: measures {med['measures']['wall_s']:.2f} s"
              f" ({med['measures']['peak_rss_mib']:,.0f} MiB), floor"
              f" {med['floor']['wall_s']:.2f} s, above the floor {med['above_floor_s']:.2f} s",
              flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{dt.date.today().isoformat()}-measures.json"
    out.write_text(json.dumps({"machine": machine(), "sizes": results}, indent=1),
                   encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
