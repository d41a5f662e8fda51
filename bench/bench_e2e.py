"""End-to-end benchmark: what a user runs (`dxa run`, `dxa report`, `dxa export`, `dxa
reassess`) as whole processes, beside DuckDB's own CSV load in its own process.

Why whole processes: the stage benchmark (`bench_pipeline.py`) times the stage functions
without Prefect, the report or the reporting copy; an analyst waits for all of it. Every
measurement here is a fresh child process; wall time is measured from outside and peak
RSS is the child's own high-water mark (`os.wait4`'s rusage, the largest of the process
and the children it waited for, e.g. Prefect's temporary server). Pairs are alternated
(floor, pipeline, floor, pipeline ...) so a change in the machine's load falls on both.

The pipeline's own stage split comes from `runs.stage_seconds` of the same runs; what a
run costs beyond its stages (interpreter, imports, Prefect's server and task engine) is
`wall - sum(stage_seconds)`, shown per data size to see whether it is constant.

    .venv/bin/python -m bench.bench_e2e --quick            # 100k only, one repeat (< 3 min)
    .venv/bin/python -m bench.bench_e2e                    # 100k and 1M, 3 repeats (< 15 min)
    .venv/bin/python -m bench.bench_e2e --server           # also against a running server
    .venv/bin/python -m bench.tables bench/results/<file>.json   # README tables from it
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cases import (
    CACHE,
    PREFECT_HOME,
    RESULTS,
    ROOT,
    canonical_csv,
    increment_csv,
    machine,
    parse_size,
    remove_db,
    size_label,
)

MIB = 1024 * 1024
FLOOR_SQL = "CREATE TABLE exams AS SELECT * FROM read_csv('{csv}')"
AS_OF = "2026-07-01"  # after the increment's last exam date: the lists are stable


def dxa() -> str:
    """The `dxa` console script of the interpreter that runs the bench."""
    return str(Path(sys.executable).with_name("dxa"))


def timed(cmd: list[str], env: dict[str, str] | None = None,
          timeout_s: float = 900) -> dict[str, Any]:
    """Run cmd as a child; its wall seconds, peak RSS (MiB) and exit code."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env=full_env)
        deadline = start + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        tail = out.read()[-2000:]
    record = {"wall_s": round(wall, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
              "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "exit": proc.returncode}
    if proc.returncode not in (0, 2):  # 2: a run with quarantined rows (not a failure)
        record["output_tail"] = tail
    return record


def floor_run(csv: Path, work: Path) -> dict[str, Any]:
    """DuckDB alone: the CSV into a new file, in its own process."""
    db = work / "floor.duckdb"
    remove_db(db)
    code = ("import duckdb,sys; c=duckdb.connect(sys.argv[1]); "
            f"c.execute({FLOOR_SQL.format(csv=csv)!r}); c.close()")
    record = timed([sys.executable, "-c", code, str(db)])
    remove_db(db)
    return record


def stage_seconds(db: Path) -> dict[str, float]:
    """The latest run's own stage timings (`runs.stage_seconds`)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT stage_seconds FROM runs ORDER BY started_at DESC LIMIT 1"
                          ).fetchone()
    finally:
        con.close()
    return {k: round(v, 3) for k, v in (row[0] or {}).items()} if row else {}


def dxa_run(csv: Path, db: Path, env: dict[str, str]) -> dict[str, Any]:
    """`dxa run csv --db db` as a user types it; with the run's stage split."""
    record = timed([dxa(), "run", str(csv), "--db", str(db), "--json"], env)
    record["stages_s"] = stage_seconds(db) if db.exists() else {}
    record["beyond_stages_s"] = round(record["wall_s"] - sum(record["stages_s"].values()), 3)
    return record


def copy_registry(src: Path, dst: Path) -> None:
    remove_db(dst)
    shutil.copyfile(src, dst)
    report = src.with_name(src.stem + ".report.duckdb")
    if report.exists():
        shutil.copyfile(report, dst.with_name(dst.stem + ".report.duckdb"))


def one_exam_csv(source: Path) -> Path:
    """The first exam of the seed-11 file: the fixed cost's input."""
    path = CACHE / "canonical-1-seed11.csv"
    if not path.exists():
        with source.open() as fh:
            path.write_text(fh.readline() + fh.readline())
    return path


def measure_size(n: int, repeats: int, work: Path, env: dict[str, str],
                 fixed: list[dict[str, Any]], one: Path) -> dict[str, Any]:
    """First loads of n exams alternated with the floor, then the nightly increment."""
    csv = canonical_csv(n)
    floors, runs, incs = [], [], []
    base = work / f"base-{n}.duckdb"
    for i in range(repeats):
        floors.append(floor_run(csv, work))
        db = work / f"run-{n}.duckdb"
        remove_db(db)
        remove_db(db.with_name(db.stem + ".report.duckdb"))
        runs.append(dxa_run(csv, db, env))
        if i == 0:
            copy_registry(db, base)
        fixed.append(dxa_run(one, work / f"fixed-{n}-{i}.duckdb", env))
        print(f"  {size_label(n)} #{i + 1}: floor {floors[-1]['wall_s']:.1f} s, dxa run "
              f"{runs[-1]['wall_s']:.1f} s ({runs[-1]['peak_rss_mib']:.0f} MiB)", flush=True)
    inc_csv, inc_info = increment_csv(canonical_csv(parse_size("100k")))
    for i in range(repeats):
        db = work / f"inc-{n}.duckdb"
        copy_registry(base, db)
        incs.append(dxa_run(inc_csv, db, env))
        print(f"  10k into {size_label(n)} #{i + 1}: {incs[-1]['wall_s']:.1f} s", flush=True)
    users = user_commands(work / f"inc-{n}.duckdb", work, env)
    return {"n": n, "csv_mib": round(csv.stat().st_size / MIB, 1), "floor": floors,
            "run": runs, "increment": incs, "increment_info": inc_info, "commands": users}


def user_commands(db: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """`dxa report`, `dxa export`, `dxa measures` and `dxa reassess` on the registry after
    an increment."""
    report_db = db.with_name(db.stem + ".report.duckdb")
    target = report_db if report_db.exists() else db
    out: dict[str, Any] = {
        "report_table": timed([dxa(), "report", "--db", str(target), "--as-of", AS_OF], env),
        "report_html": timed([dxa(), "report", "--db", str(target), "--as-of", AS_OF,
                              "--format", "html", "--output", str(work / "r.html")], env),
        "export_overdue": timed([dxa(), "export", "overdue", "--db", str(target),
                                 "--as-of", AS_OF, "--output", str(work / "o.csv")], env),
        "measures": timed([dxa(), "measures", "--db", str(target), "--as-of", AS_OF,
                           "--period", "2025"], env),
    }
    out["reassess"] = timed([dxa(), "reassess", "--db", str(db), "--ruleset", "bhof-2022"],
                            env)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def warm_server_fixed(one: Path, work: Path, repeats: int) -> dict[str, Any]:
    """1-exam runs against a running local `prefect server start` (a site's setup)."""
    port = free_port()
    home = work / "server-home"
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host",
         "127.0.0.1", "--port", str(port)], env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < 180:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        time.sleep(2)
        client_env = {**env, "PREFECT_API_URL": api}
        runs = [dxa_run(one, work / f"warm-{i}.duckdb", client_env) for i in range(repeats)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"api_url_form": "http://127.0.0.1:PORT/api", "runs": runs}


#: Where a 1-exam run's seconds go: each part a fresh process, timed from outside.
FIXED_PARTS: dict[str, str] = {
    "interpreter": "pass",
    "dxa's CLI imports (polars, pandera, duckdb, typer)": "import pipelines.cli.commands",
    "Prefect's import": "import prefect",
    "the flow's imports (Prefect, its engines, the stages, the charts, the preloads)":
        "import pipelines.flows.nightly; "
        "from pipelines.flows.execute import preload_flow_imports as p; p()",
    "Prefect's temporary API server alone (start until healthy, stop)":
        "from pipelines.runtime.temporary_api import TemporaryServer as T; "
        "s = T(); assert s.wait_ready(); s.stop()",
}


def fixed_cost_parts(env: dict[str, str], repeats: int) -> dict[str, float | None]:
    """Median wall seconds of each FIXED_PARTS process (the 1-exam run is beside it)."""
    out: dict[str, float | None] = {}
    for name, code in FIXED_PARTS.items():
        out[name] = med([timed([sys.executable, "-c", code], env) for _ in range(repeats)],
                        "wall_s")
    return out


def med(records: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records if key in r and r.get("exit") in (0, 2)]
    return round(statistics.median(values), 3) if values else None


def _stage_sum(records: list[dict[str, Any]]) -> float | None:
    """Median over runs of the sum of a run's `runs.stage_seconds`."""
    sums = [sum(r["stages_s"].values()) for r in records
            if r.get("stages_s") and r.get("exit") in (0, 2)]
    return round(statistics.median(sums), 3) if sums else None


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Medians and the issue's ratios, from the raw runs."""
    fixed = med(report["fixed"], "wall_s")
    fixed_beyond = med(report["fixed"], "beyond_stages_s")
    fixed_stages = _stage_sum(report["fixed"])
    out: dict[str, Any] = {"fixed_s": fixed, "fixed_beyond_stages_s": fixed_beyond,
                           "fixed_stages_sum_s": fixed_stages}
    for size in report["sizes"]:
        label = size_label(size["n"])
        floor, run = med(size["floor"], "wall_s"), med(size["run"], "wall_s")
        inc = med(size["increment"], "wall_s")
        inc_stage_sum = _stage_sum(size["increment"])
        stages: dict[str, float] = {}
        for name in {k for r in size["run"] for k in r["stages_s"]}:
            stages[name] = round(statistics.median(
                r["stages_s"].get(name, 0.0) for r in size["run"]), 3)
        inc_stages: dict[str, float] = {}
        for name in {k for r in size["increment"] for k in r["stages_s"]}:
            inc_stages[name] = round(statistics.median(
                r["stages_s"].get(name, 0.0) for r in size["increment"]), 3)
        out[label] = {
            "floor_s": floor, "floor_rss_mib": med(size["floor"], "peak_rss_mib"),
            "run_s": run, "run_rss_mib": max(r["peak_rss_mib"] for r in size["run"]),
            "run_minus_fixed_over_floor": round((run - fixed) / floor, 2)
            if None not in (run, fixed, floor) else None,
            "run_over_floor": round(run / floor, 2) if None not in (run, floor) else None,
            "run_beyond_stages_s": med(size["run"], "beyond_stages_s"),
            "increment_s": inc, "increment_minus_fixed_s": round(inc - fixed, 2)
            if None not in (inc, fixed) else None,
            # the same difference by the stages alone: without the process and server
            # start, whose spread on a shared machine is larger than the increment itself
            "increment_stages_above_fixed_s": round(inc_stage_sum - fixed_stages, 2)
            if None not in (inc_stage_sum, fixed_stages) else None,
            "increment_rss_mib": med(size["increment"], "peak_rss_mib"),
            "increment_beyond_stages_s": med(size["increment"], "beyond_stages_s"),
            "stages_s": dict(sorted(stages.items())),
            "increment_stages_s": dict(sorted(inc_stages.items())),
            "commands_s": {k: v["wall_s"] for k, v in size["commands"].items()},
        }
    if report.get("warm_server"):
        out["warm_fixed_s"] = med(report["warm_server"]["runs"], "wall_s")
    return out


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100k,1m")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100k only, one repeat")
    ap.add_argument("--server", action="store_true",
                    help="also 1-exam runs against a running local Prefect server")
    ap.add_argument("--label", default=None)
    args = ap.parse_args()
    sizes = [parse_size("100k")] if args.quick else [parse_size(s) for s in
                                                     args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    env = {"PREFECT_HOME": str(PREFECT_HOME)}
    report: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              "machine": machine(), "loadavg_start": loadavg(),
                              "repeats": repeats, "floor_sql": FLOOR_SQL,
                              "fixed": [], "sizes": []}
    with tempfile.TemporaryDirectory(dir=CACHE if CACHE.exists() else None) as tmp:
        work = Path(tmp)
        one = one_exam_csv(canonical_csv(parse_size("100k")))
        report["fixed"].append(dxa_run(one, work / "fixed-first.duckdb", env))  # warms home
        for n in sizes:
            report["sizes"].append(measure_size(n, repeats, work, env, report["fixed"], one))
        if args.server:
            report["warm_server"] = warm_server_fixed(one, work, max(repeats, 2))
        report["fixed_parts"] = fixed_cost_parts(env, max(repeats, 2))
    report["fixed"] = report["fixed"][1:] or report["fixed"]  # the first run fills caches
    report["loadavg_end"] = loadavg()
    report["summary"] = summarise(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    label = args.label or ("quick" if args.quick else "e2e")
    path = RESULTS / f"{dt.date.today().isoformat()}-{label}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
