"""End-to-end benchmark of the registry pipeline: I/O floor, full pipeline, nightly increment,
Prefect's fixed overhead, row-by-row oracle, and (optionally) 10M exams.

Run from the repository root (either form works):

    .venv/bin/python -m bench.bench_pipeline --sizes 100k,1m [--repeats 3] [--with-10m]
    .venv/bin/python bench/bench_pipeline.py --sizes 100k,1m [--repeats 3] [--with-10m]

Every measurement runs in a fresh subprocess of this script (`--worker KIND`), so one
size's memory never contaminates another's and each peak RSS is that run's own. Peak RSS
per stage comes from resetting the kernel's high-water mark (`/proc/self/clear_refs` = 5)
before the stage and reading `VmHWM` after it; the process peak is `ru_maxrss`. The parent
polls every child's RSS and kills it past `--rss-limit-gib` (16 by default) so a run that
blows up cannot swap the machine.

Canonical CSVs are generated once with `samplegen.canonical.write_canonical_csv` into
`bench/cache/` (git-ignored) and reused. Results: a table of medians on stdout and JSON in
`bench/results/<date>-<label>.json`. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CACHE = BENCH / "cache"
RESULTS = BENCH / "results"
PREFECT_HOME = CACHE / "prefect-home"

#: The load's stages as the pipeline records them (`pipelines.timing.Stage`), and the rest.
LOAD_PARTS = ("registry_overlap", "decide", "history_query", "serial", "insert", "commit",
              "other")
#: The row-by-row rules oracle of the test suite, loaded by path (it is not a package).
ORACLE = ROOT / "tests" / "rules" / "oracle.py"

SEED = 11  # the main files: canonical-<n>-seed11.csv
INCREMENT_SEED = 12  # the nightly increment (different exam ids)
INCREMENT_ROWS = 10_000
INCREMENT_START = dt.date(2026, 1, 1)  # after every history exam (history ends 2025-12-31)
INCREMENT_END = dt.date(2026, 6, 30)  # in the past: a future exam date is quarantined
RULESET = "core-2025"
GIB = 1024**3


# --------------------------------------------------------------------------------------
# small helpers (shared by parent and workers)
# --------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def vm_hwm_mib() -> float:
    """Peak RSS of this process since the last reset (VmHWM), MiB."""
    with open("/proc/self/status") as fh:
        m = re.search(r"VmHWM:\s+(\d+)\s+kB", fh.read())
    return int(m.group(1)) / 1024 if m else float("nan")


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Wall time and peak RSS per stage of one worker process."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        reset_hwm()
        start = time.perf_counter()
        out = fn()
        self.times[name] = time.perf_counter() - start
        self.peaks[name] = vm_hwm_mib()
        return out


def canonical_csv(n: int, seed: int = SEED) -> Path:
    """The cached canonical CSV of n exams (generated when missing)."""
    from samplegen.canonical import write_canonical_csv

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"canonical-{n}-seed{seed}.csv"
    if not path.exists():
        tmp = path.with_suffix(".csv.tmp")
        start = time.perf_counter()
        write_canonical_csv(tmp, n, seed, chunk_rows=min(n, 1_000_000) or 1)
        tmp.replace(path)
        print(f"  generated {path.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def increment_csv(history_csv: Path) -> tuple[Path, dict[str, Any]]:
    """10k new exams (seed 12, dated 2026) where a third of the rows are repeat exams of
    patients sampled from `history_csv`. The same file serves every history size: the
    sampled patients come from the smallest history, whose patients every larger file
    of the same seed also holds (generation is keyed by patient number)."""
    import polars as pl

    from samplegen.canonical import SCHEMA, generate_exams, to_text

    dates = f"{INCREMENT_START:%Y%m%d}-{INCREMENT_END:%Y%m%d}"
    path = CACHE / (f"increment-{INCREMENT_ROWS}-seed{INCREMENT_SEED}-{dates}"
                    f"-from-{history_csv.stem}.csv")
    info = {"rows": INCREMENT_ROWS, "seed": INCREMENT_SEED,
            "exam_dates": [INCREMENT_START.isoformat(), INCREMENT_END.isoformat()],
            "repeat_patients_from": history_csv.name}
    if path.exists():
        info["repeat_rows"] = INCREMENT_ROWS // 3
        return path, info
    frame = generate_exams(
        INCREMENT_ROWS, INCREMENT_SEED, start_date=INCREMENT_START, end_date=INCREMENT_END
    )
    repeats = INCREMENT_ROWS // 3
    patients = (
        pl.scan_csv(history_csv, infer_schema=False)
        .select("patient_id")
        .unique()
        .sort("patient_id")
        .collect()
        .sample(repeats, seed=INCREMENT_SEED)
        .get_column("patient_id")
    )
    rows = (
        pl.int_range(0, frame.height, eager=True)
        .sample(repeats, seed=INCREMENT_SEED + 1)
        .sort()
    )
    pid = frame.get_column("patient_id").scatter(rows, patients)
    frame = frame.with_columns(pid.alias("patient_id"))
    with path.open("wb") as fh:
        fh.write((",".join(SCHEMA) + "\n").encode())
        to_text(frame, INCREMENT_SEED).write_csv(fh, include_header=False)
    info["repeat_rows"] = repeats
    return path, info


def remove_db(db: Path) -> None:
    for suffix in ("", ".wal", ".tmp"):
        p = Path(str(db) + suffix)
        if p.exists():
            p.unlink()


# --------------------------------------------------------------------------------------
# workers (each runs in its own process and prints one JSON line)
# --------------------------------------------------------------------------------------


def worker_io_floor(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    import polars as pl

    db = Path(args["db"])
    remove_db(db)
    st = Stages()
    frame = st.run("read", lambda: pl.read_csv(args["csv"], infer_schema_length=10_000))
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT * FROM frame LIMIT 0")

    def insert() -> None:
        con.register("incoming", frame.to_arrow())
        con.execute("INSERT INTO t SELECT * FROM incoming")
        con.unregister("incoming")

    st.run("insert", insert)
    rows = con.sql("SELECT count(*) FROM t").fetchall()[0][0]
    st.run("close", con.close)
    remove_db(db)
    total = st.times["read"] + st.times["insert"]
    return {
        "rows": rows,
        "read_s": st.times["read"],
        "insert_s": st.times["insert"],
        "close_s": st.times["close"],
        "total_s": total,
        "rows_per_s": rows / total,
        "peak_rss_mib": {**st.peaks, "process": maxrss_mib()},
    }


def worker_full(args: dict[str, Any]) -> dict[str, Any]:
    """prepare_input + load_input into a fresh (or copied-history) registry, with the
    pipeline's own stage timings (`pipelines.timing`) and standalone re-runs."""
    from pipelines.ledger import begin_run
    from pipelines.load import load_input
    from pipelines.prepare import prepare_input
    from pipelines.registry_reads import patient_history, serial_frames
    from pipelines.rules_bridge import decider_for, resolve_ruleset
    from pipelines.store import registry
    from pipelines.timing import StageTimer
    from sources.base import CANONICAL_CSV, ReadOptions
    from sources.detect import Input, read_input
    from transforms.exam_frame import validate_cells
    from transforms.measurements import SERIAL_EXAM_COLUMNS
    from transforms.precision import load_precision
    from transforms.serial import compare_serial

    csv, db = Path(args["csv"]), Path(args["db"])
    remove_db(db)
    if args.get("base_db"):
        shutil.copyfile(args["base_db"], db)
        if Path(args["base_db"] + ".wal").exists():
            shutil.copyfile(args["base_db"] + ".wal", str(db) + ".wal")
    ruleset = resolve_ruleset(RULESET)
    precision = load_precision(None)
    decide_fn = decider_for(ruleset)

    timer = StageTimer()  # the load's own stage timings (the pipeline times itself)
    st = Stages()
    item = Input(csv, CANONICAL_CSV)
    prepared = st.run("prepare", lambda: prepare_input(item, ReadOptions()))
    if prepared.error:
        raise RuntimeError(prepared.error)
    history_rows = 0
    with registry(db) as con:
        if args.get("base_db"):
            history_rows = con.sql("SELECT count(*) FROM exams").fetchall()[0][0]
        run_id = "bench-" + uuid.uuid4().hex[:8]
        begin_run(con, run_id, ruleset.label)
        outcome = st.run(
            "load",
            lambda: load_input(con, run_id, ruleset.label, prepared, decide_fn, precision, timer),
        )
        counts = {
            t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("exams", "measurements", "assessments", "flags", "bmd_changes", "quarantine")
        }
        reset_hwm()
        start = time.perf_counter()
        con.close()  # registry() closes again: harmless
        st.times["close"] = time.perf_counter() - start
        st.peaks["close"] = vm_hwm_mib()
    process_peak_pipeline = maxrss_mib()
    parts = dict(timer.seconds)  # the standalone re-runs below do not add to these
    prepare_parts = dict(prepared.stage_seconds)

    # Standalone attribution on the same valid frame (after the pipeline: separate peaks).
    valid = prepared.valid  # None for a large file read in batches (10M)
    extra: dict[str, float] = {}
    if args.get("attribution", True) and valid is not None:
        st.run("decide_alone", lambda: decide_fn(valid))
        hist = valid.select(SERIAL_EXAM_COLUMNS).clear()
        if args.get("base_db"):
            import duckdb

            ro = duckdb.connect(str(db), read_only=True)
            hist = patient_history(ro, valid)
            ro.close()
        batch, hist = serial_frames(valid, hist)
        st.run("serial_alone", lambda: compare_serial(batch, hist, precision))
        source = st.run("read_alone", lambda: read_input(item, ReadOptions()))
        st.run("validate_alone", lambda: validate_cells(source.cells, source.parse_options))
        extra = {k: st.times[k] for k in ("decide_alone", "serial_alone", "read_alone",
                                          "validate_alone")}
    if not args.get("keep_db"):
        remove_db(db)
    load_s = st.times["load"]
    known = sum(parts.get(k, 0.0) for k in LOAD_PARTS if k != "other")
    total = st.times["prepare"] + load_s
    return {
        "rows_read": outcome.rows_read,
        "rows_valid": outcome.rows_loaded,
        "rows_quarantined": outcome.rows_quarantined,
        "history_exams": history_rows,
        "table_rows": counts,
        "prepare_s": st.times["prepare"],
        "prepare_parts_s": prepare_parts,
        "load_s": load_s,
        "load_parts_s": {**parts, "other": load_s - known},
        "close_s": st.times["close"],
        "total_s": total,
        "rows_per_s": outcome.rows_read / total,
        "standalone_s": extra,
        "peak_rss_mib": {**st.peaks, "pipeline_process": process_peak_pipeline,
                         "process": maxrss_mib()},
    }


def _oracle() -> Any:  # noqa: ANN401 - a module
    """The test suite's row-by-row oracle, imported from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dxa_rules_oracle", ORACLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker_oracle(args: dict[str, Any]) -> dict[str, Any]:
    """decide() vs the row-by-row test oracle (tests/rules/oracle.py decide_one) on the
    valid exams of one canonical file."""
    decide_one = _oracle().decide_one
    from pipelines.prepare import prepare_input
    from schemas.columns import CANONICAL_COLUMNS
    from sources.base import CANONICAL_CSV, ReadOptions
    from sources.detect import Input
    from transforms.rules.decide import ASSESSMENT_COLUMNS, decide
    from transforms.rules.ruleset import load_ruleset

    ruleset = load_ruleset(RULESET)
    prepared = prepare_input(Input(Path(args["csv"]), CANONICAL_CSV), ReadOptions())
    valid = prepared.valid.select(list(CANONICAL_COLUMNS))
    decide(valid.head(1000), ruleset)  # warm-up
    times = []
    for _ in range(args.get("repeats", 3)):
        start = time.perf_counter()
        decisions = decide(valid, ruleset)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    rows = valid.to_dicts()
    to_dicts_s = time.perf_counter() - start
    start = time.perf_counter()
    results = []
    errors = 0
    for row in rows:
        try:
            results.append(decide_one(row, ruleset))
        except Exception:  # noqa: BLE001 - counted and reported
            results.append(None)
            errors += 1
    oracle_s = time.perf_counter() - start
    # Agreement check (not timed): same assessments, same number of flags.
    got = decisions.assessments.to_dicts()
    mismatched = sum(
        1
        for actual, res in zip(got, results, strict=True)
        if res is None or actual != {c: res[0][c] for c in ASSESSMENT_COLUMNS}
    )
    oracle_flags = sum(len(r[1]) for r in results if r is not None)
    return {
        "rows": valid.height,
        "decide_s": statistics.median(times),
        "decide_all_s": times,
        "oracle_s": oracle_s,
        "oracle_to_dicts_s": to_dicts_s,
        "oracle_errors": errors,
        "assessment_mismatches": mismatched,
        "flags_decide": decisions.flags.height,
        "flags_oracle": oracle_flags,
        "speedup": oracle_s / statistics.median(times),
        "peak_rss_mib": {"process": maxrss_mib()},
    }


def worker_prefect(args: dict[str, Any]) -> dict[str, Any]:
    """registry_flow vs the same tasks' functions called without Prefect (`.fn`)."""
    import logging

    from pipelines.flow import PlainStages, registry_flow, run_stages
    from pipelines.settings import resolve_settings

    logging.getLogger("prefect").setLevel(logging.WARNING)
    work = Path(args["workdir"])
    work.mkdir(parents=True, exist_ok=True)

    def fresh_db(tag: str) -> str:
        db = work / f"{tag}-{uuid.uuid4().hex[:6]}.duckdb"
        return str(db)

    def plain(paths: list[str], db: str) -> Any:
        """The flow's own stages, called without Prefect (`PlainStages`)."""
        settings = resolve_settings(RULESET)
        return run_stages(paths, db, settings, PlainStages(), logging.getLogger("bench"))

    def with_prefect(paths: list[str], db: str) -> Any:
        return registry_flow(paths=paths, db=db, ruleset=RULESET)

    def timed(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        summary = fn()
        assert summary.status == "completed", summary.status
        return time.perf_counter() - start

    out: dict[str, Any] = {}
    tiny, small = args["tiny_csv"], args["small_csv"]
    # The first flow in a process starts the ephemeral API server (what a nightly CLI pays).
    out["flow_first_in_process_tiny_s"] = timed(lambda: with_prefect([tiny], fresh_db("f1")))
    out["flow_tiny_s"] = timed(lambda: with_prefect([tiny], fresh_db("f")))
    out["plain_tiny_s"] = timed(lambda: plain([tiny], fresh_db("p")))
    out["flow_small_s"] = timed(lambda: with_prefect([small], fresh_db("f")))
    out["plain_small_s"] = timed(lambda: plain([small], fresh_db("p")))
    out["peak_rss_mib"] = {"process": maxrss_mib()}
    shutil.rmtree(work, ignore_errors=True)
    return out


WORKERS = {
    "io_floor": worker_io_floor,
    "full": worker_full,
    "oracle": worker_oracle,
    "prefect": worker_prefect,
}


def worker_main(kind: str, payload: str) -> None:
    out = WORKERS[kind](json.loads(payload))
    print("RESULT " + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------
# parent: run workers in subprocesses with an RSS guard
# --------------------------------------------------------------------------------------


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            m = re.search(r"VmRSS:\s+(\d+)\s+kB", fh.read())
        return int(m.group(1)) / 1024 if m else 0.0
    except OSError:
        return 0.0


def run_worker(
    kind: str,
    args: dict[str, Any],
    *,
    rss_limit_gib: float,
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; return its JSON (or an error record)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, json.dumps(args)]
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env=full_env)
        polled_peak = 0.0
        killed = None
        while proc.poll() is None:
            rss = _rss_mib(proc.pid)
            polled_peak = max(polled_peak, rss)
            if rss > rss_limit_gib * 1024:
                killed = f"RSS {rss / 1024:.1f} GiB passed the {rss_limit_gib} GiB guard"
                proc.kill()
            elif time.perf_counter() - start > timeout_s:
                killed = f"timeout after {timeout_s:.0f} s"
                proc.kill()
            time.sleep(0.1)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["subprocess_wall_s"] = wall
            result["polled_peak_rss_mib"] = polled_peak
            return result
    return {
        "error": killed or f"worker exited {proc.returncode}",
        "stderr_tail": stderr[-3000:],
        "subprocess_wall_s": wall,
        "polled_peak_rss_mib": polled_peak,
    }


def median_of(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        v: Any = run
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            values.append(float(v))
    return statistics.median(values) if values else None


def max_of(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        v: Any = run
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            values.append(float(v))
    return max(values) if values else None


def machine() -> dict[str, Any]:
    import duckdb
    import polars as pl

    with open("/proc/meminfo") as fh:
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", fh.read()).group(1))
    try:
        import prefect

        prefect_version = prefect.__version__
    except Exception:  # noqa: BLE001
        prefect_version = None
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "prefect": prefect_version,
        "git_commit": commit,
        "git_worktree_modified": bool(dirty),
    }


def fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("payload", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100k,1m", help="exam counts, e.g. 100k,1m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--history-sizes", default=None,
                        help="history sizes for the nightly increment (default: --sizes "
                             "capped at 1m)")
    parser.add_argument("--with-10m", action="store_true",
                        help="also run the full pipeline once at 10M exams (long)")
    parser.add_argument("--skip-10m", action="store_true", help="(default) do not run 10M")
    parser.add_argument("--skip", default="",
                        help="comma list of parts to skip: io,full,increment,prefect,oracle")
    parser.add_argument("--oracle-size", default="100k")
    parser.add_argument("--rss-limit-gib", type=float, default=16.0)
    parser.add_argument("--label", default=None, help="results file label (default: sizes)")
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.payload)
        return

    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    history_sizes = (
        [parse_size(s) for s in args.history_sizes.split(",") if s]
        if args.history_sizes
        else [s for s in sizes if s <= 1_000_000]
    )
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    label = args.label or "-".join(size_label(s) for s in sizes)
    guard = {"rss_limit_gib": args.rss_limit_gib}
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "tmp"
    tmp.mkdir(exist_ok=True)

    report: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "label": label,
        "command": " ".join([".venv/bin/python -m bench.bench_pipeline", *sys.argv[1:]]),
        "machine": machine(),
        "seed": SEED,
        "repeats": args.repeats,
        "ruleset": RULESET,
        "sizes": {},
    }
    print(f"machine: {json.dumps(report['machine'])}", flush=True)

    def save() -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{dt.date.today().isoformat()}-{label}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        return path

    # 1 + 2: I/O floor and full pipeline per size
    for n in sizes:
        csv = canonical_csv(n)
        entry: dict[str, Any] = {"rows": n, "csv": csv.name, "csv_mib": csv.stat().st_size / 2**20}
        report["sizes"][size_label(n)] = entry
        timeout = max(600.0, n / 1_000_000 * 300)
        if "io" not in skip:
            runs = []
            for r in range(args.repeats):
                res = run_worker("io_floor", {"csv": str(csv), "db": str(tmp / f"io-{n}.duckdb")},
                                 timeout_s=timeout, **guard)
                runs.append(res)
                print(f"  io_floor {size_label(n)} #{r + 1}: "
                      f"{fmt(res.get('total_s'))} s {res.get('error', '')}", flush=True)
            entry["io_floor"] = {"runs": runs}
        if "full" not in skip:
            runs = []
            for r in range(args.repeats):
                keep = r == args.repeats - 1 and n in history_sizes
                db = CACHE / f"history-{n}.duckdb" if keep else tmp / f"full-{n}.duckdb"
                res = run_worker("full", {"csv": str(csv), "db": str(db), "keep_db": keep},
                                 timeout_s=timeout, **guard)
                runs.append(res)
                print(f"  full {size_label(n)} #{r + 1}: "
                      f"{fmt(res.get('total_s'))} s {res.get('error', '')}", flush=True)
            entry["full"] = {"runs": runs}
        save()

    # 3: nightly increment on top of each history size
    if "increment" not in skip and history_sizes:
        smallest = canonical_csv(min(history_sizes))
        inc_csv, info = increment_csv(smallest)
        inc: dict[str, Any] = {**info, "csv": inc_csv.name, "by_history": {}}
        report["increment"] = inc
        for h in history_sizes:
            base = CACHE / f"history-{h}.duckdb"
            if not base.exists() or "full" in skip or h not in sizes:
                print(f"  building history registry of {size_label(h)} exams", flush=True)
                res = run_worker("full", {"csv": str(canonical_csv(h)), "db": str(base),
                                          "keep_db": True, "attribution": False},
                                 timeout_s=900, **guard)
                if "error" in res:
                    inc["by_history"][size_label(h)] = {"error": res}
                    continue
            runs = []
            for r in range(args.repeats):
                res = run_worker("full", {"csv": str(inc_csv), "db": str(tmp / "inc.duckdb"),
                                          "base_db": str(base)}, timeout_s=600, **guard)
                runs.append(res)
                print(f"  increment on {size_label(h)} history #{r + 1}: "
                      f"{fmt(res.get('total_s'))} s {res.get('error', '')}", flush=True)
            inc["by_history"][size_label(h)] = {"runs": runs}
        save()

    # 4: Prefect's fixed overhead
    if "prefect" not in skip:
        tiny = CACHE / "tiny-1-seed13.csv"
        if not tiny.exists():
            from samplegen.canonical import write_canonical_csv

            write_canonical_csv(tiny, 1, 13)
        small = canonical_csv(10_000, 14)
        env = {
            "PREFECT_HOME": str(PREFECT_HOME),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        os.environ.pop("PREFECT_API_URL", None)
        pf: dict[str, Any] = {"tiny_rows": 1, "small_rows": 10_000,
                              "prefect_home_existed": PREFECT_HOME.exists(), "runs": []}
        report["prefect"] = pf
        for r in range(args.repeats + 1):  # the first process may be a cold PREFECT_HOME
            res = run_worker("prefect", {"tiny_csv": str(tiny), "small_csv": str(small),
                                         "workdir": str(tmp / f"prefect-{r}")},
                             timeout_s=600, env=env, **guard)
            res["process_no"] = r + 1
            pf["runs"].append(res)
            print(f"  prefect process #{r + 1}: first flow "
                  f"{fmt(res.get('flow_first_in_process_tiny_s'))} s, flow tiny "
                  f"{fmt(res.get('flow_tiny_s'))} s, plain tiny {fmt(res.get('plain_tiny_s'))} s,"
                  f" flow 10k {fmt(res.get('flow_small_s'))} s, plain 10k "
                  f"{fmt(res.get('plain_small_s'))} s {res.get('error', '')}", flush=True)
        save()

    # 5: row-by-row oracle
    if "oracle" not in skip:
        n = parse_size(args.oracle_size)
        res = run_worker("oracle", {"csv": str(canonical_csv(n)), "repeats": args.repeats},
                         timeout_s=900, **guard)
        res["size"] = n
        report["oracle"] = res
        print(f"  oracle {size_label(n)}: {fmt(res.get('oracle_s'))} s vs decide "
              f"{fmt(res.get('decide_s'), '.3f')} s {res.get('error', '')}", flush=True)
        save()

    # 6: 10M exams (optional)
    if args.with_10m:
        n = 10_000_000
        csv = canonical_csv(n)
        res = run_worker("full", {"csv": str(csv), "db": str(tmp / "full-10m.duckdb"),
                                  "attribution": False}, timeout_s=3600, **guard)
        report["ten_million"] = {"rows": n, "csv_mib": csv.stat().st_size / 2**20, "run": res,
                                 "rss_limit_gib": args.rss_limit_gib}
        peak = (res.get("peak_rss_mib") or {}).get("process", res["polled_peak_rss_mib"])
        print(f"  10m: {fmt(res.get('total_s'))} s, peak {fmt(peak / 1024)} GiB "
              f"{res.get('error', '')}", flush=True)
        save()

    summarise(report)
    path = save()
    print_table(report)
    print(f"\nwrote {path.relative_to(ROOT)}")


# --------------------------------------------------------------------------------------
# summary and table
# --------------------------------------------------------------------------------------


def summarise(report: dict[str, Any]) -> None:
    """Medians over repeats (and max of peaks) into a `summary` block per part."""
    for entry in report["sizes"].values():
        io = entry.get("io_floor", {}).get("runs", [])
        full = entry.get("full", {}).get("runs", [])
        s: dict[str, Any] = {}
        if io:
            s["io_read_s"] = median_of(io, "read_s")
            s["io_insert_s"] = median_of(io, "insert_s")
            s["io_total_s"] = median_of(io, "total_s")
            s["io_rows_per_s"] = median_of(io, "rows_per_s")
            s["io_peak_rss_mib"] = max_of(io, "peak_rss_mib", "process")
        if full:
            for key in ("prepare_s", "load_s", "close_s", "total_s", "rows_per_s"):
                s[f"full_{key}"] = median_of(full, key)
            for part in LOAD_PARTS:
                s[f"load_{part}_s"] = median_of(full, "load_parts_s", part)
            for part in ("decide_alone", "serial_alone", "read_alone", "validate_alone"):
                s[f"{part}_s"] = median_of(full, "standalone_s", part)
            for stage in ("prepare", "load", "decide_alone", "serial_alone", "read_alone",
                          "validate_alone"):
                s[f"peak_rss_{stage}_mib"] = max_of(full, "peak_rss_mib", stage)
            s["peak_rss_pipeline_mib"] = max_of(full, "peak_rss_mib", "pipeline_process")
            s["table_rows"] = full[0].get("table_rows")
        if io and full and s.get("io_total_s") and s.get("full_total_s"):
            s["full_over_io_floor"] = s["full_total_s"] / s["io_total_s"]
        entry["summary"] = s
    inc = report.get("increment")
    if inc:
        for block in inc["by_history"].values():
            runs = block.get("runs", [])
            if runs:
                block["summary"] = {
                    "history_exams": median_of(runs, "history_exams"),
                    "total_s": median_of(runs, "total_s"),
                    "prepare_s": median_of(runs, "prepare_s"),
                    "load_s": median_of(runs, "load_s"),
                    **{f"load_{part}_s": median_of(runs, "load_parts_s", part)
                       for part in LOAD_PARTS},
                    "bmd_changes": median_of(runs, "table_rows", "bmd_changes"),
                    "peak_rss_mib": max_of(runs, "peak_rss_mib", "pipeline_process"),
                }
        keys = list(inc["by_history"])
        totals = [inc["by_history"][k].get("summary", {}).get("total_s") for k in keys]
        if len(keys) >= 2 and all(totals):
            inc["growth_pct"] = 100 * (totals[-1] - totals[0]) / totals[0]
            inc["growth_between"] = [keys[0], keys[-1]]
    pf = report.get("prefect")
    if pf:
        runs = [r for r in pf["runs"] if "error" not in r]
        warm = runs[1:] if pf.get("prefect_home_existed") is False and len(runs) > 1 else runs
        s = {k: median_of(warm, k) for k in ("flow_first_in_process_tiny_s", "flow_tiny_s",
                                              "plain_tiny_s", "flow_small_s", "plain_small_s")}
        if runs and pf.get("prefect_home_existed") is False:
            s["cold_home_first_flow_s"] = runs[0].get("flow_first_in_process_tiny_s")
        if all(s.get(k) is not None for k in ("flow_tiny_s", "plain_tiny_s", "flow_small_s",
                                               "plain_small_s", "flow_first_in_process_tiny_s")):
            s["overhead_tiny_s"] = s["flow_tiny_s"] - s["plain_tiny_s"]
            s["overhead_small_s"] = s["flow_small_s"] - s["plain_small_s"]
            s["overhead_process_first_s"] = s["flow_first_in_process_tiny_s"] - s["plain_tiny_s"]
        pf["summary"] = s


def print_table(report: dict[str, Any]) -> None:
    print("\n== I/O floor vs full pipeline (medians; seconds; peak RSS MiB) ==")
    head = (f"{'size':>6} {'io read':>8} {'io ins':>7} {'io tot':>7} | {'prepare':>8} "
            f"{'decide':>7} {'serial':>7} {'insert':>7} {'ld oth':>7} {'load':>7} "
            f"{'total':>7} {'rows/s':>10} {'x io':>5} | {'rss prep':>8} {'rss load':>8} "
            f"{'rss io':>7}")
    print(head)
    for name, entry in report["sizes"].items():
        s = entry.get("summary", {})
        other = None
        if s.get("load_other_s") is not None:
            other = sum(s.get(f"load_{k}_s") or 0.0 for k in (
                "history_query", "registry_overlap", "commit", "other"))
        print(f"{name:>6} {fmt(s.get('io_read_s')):>8} {fmt(s.get('io_insert_s')):>7} "
              f"{fmt(s.get('io_total_s')):>7} | {fmt(s.get('full_prepare_s')):>8} "
              f"{fmt(s.get('load_decide_s')):>7} {fmt(s.get('load_serial_s')):>7} "
              f"{fmt(s.get('load_insert_s')):>7} {fmt(other):>7} {fmt(s.get('full_load_s')):>7} "
              f"{fmt(s.get('full_total_s')):>7} {fmt(s.get('full_rows_per_s'), ',.0f'):>10} "
              f"{fmt(s.get('full_over_io_floor')):>5} | "
              f"{fmt(s.get('peak_rss_prepare_mib'), '.0f'):>8} "
              f"{fmt(s.get('peak_rss_load_mib'), '.0f'):>8} "
              f"{fmt(s.get('io_peak_rss_mib'), '.0f'):>7}")
    print("\n   standalone on the same valid frame (medians, s): read / validate / decide / serial")
    for name, entry in report["sizes"].items():
        s = entry.get("summary", {})
        print(f"{name:>6} {fmt(s.get('read_alone_s'))} / {fmt(s.get('validate_alone_s'))} / "
              f"{fmt(s.get('decide_alone_s'))} / {fmt(s.get('serial_alone_s'))}")
    inc = report.get("increment")
    if inc:
        print(f"\n== nightly increment: {inc['rows']:,} exams, {inc.get('repeat_rows')} repeat "
              "exams of history patients (medians, s) ==")
        print(f"{'history':>8} {'total':>7} {'prepare':>8} {'load':>7} {'hist q':>7} "
              f"{'serial':>7} {'decide':>7} {'insert':>7} {'changes':>8} {'rss MiB':>8}")
        for h, block in inc["by_history"].items():
            s = block.get("summary", {})
            print(f"{h:>8} {fmt(s.get('total_s')):>7} {fmt(s.get('prepare_s')):>8} "
                  f"{fmt(s.get('load_s')):>7} {fmt(s.get('load_history_query_s')):>7} "
                  f"{fmt(s.get('load_serial_s')):>7} {fmt(s.get('load_decide_s')):>7} "
                  f"{fmt(s.get('load_insert_s')):>7} {fmt(s.get('bmd_changes'), '.0f'):>8} "
                  f"{fmt(s.get('peak_rss_mib'), '.0f'):>8}")
        if "growth_pct" in inc:
            print(f"   growth {inc['growth_between'][0]} -> {inc['growth_between'][1]} history: "
                  f"{inc['growth_pct']:+.1f}%")
    pf = report.get("prefect")
    if pf:
        s = pf.get("summary", {})
        print("\n== Prefect fixed overhead (medians over processes, s) ==")
        print(f"   first flow in a new process (ephemeral server start), 1 exam: "
              f"{fmt(s.get('flow_first_in_process_tiny_s'))}")
        if s.get("cold_home_first_flow_s") is not None:
            print(f"   first flow ever (empty PREFECT_HOME): {fmt(s['cold_home_first_flow_s'])}")
        print(f"   1 exam:  flow {fmt(s.get('flow_tiny_s'))}  plain {fmt(s.get('plain_tiny_s'))}"
              f"  overhead {fmt(s.get('overhead_tiny_s'))}")
        print(f"   10k:     flow {fmt(s.get('flow_small_s'))}  plain {fmt(s.get('plain_small_s'))}"
              f"  overhead {fmt(s.get('overhead_small_s'))}")
        print(f"   per-process overhead (first flow - plain, 1 exam): "
              f"{fmt(s.get('overhead_process_first_s'))}")
    orc = report.get("oracle")
    if orc:
        print(f"\n== rules: row-by-row oracle vs decide() on {orc.get('rows', 0):,} valid exams ==")
        print(f"   oracle {fmt(orc.get('oracle_s'))} s (+ to_dicts "
              f"{fmt(orc.get('oracle_to_dicts_s'))}"
              f" s), decide {fmt(orc.get('decide_s'), '.3f')} s, speed-up "
              f"{fmt(orc.get('speedup'), '.0f')}x; oracle errors {orc.get('oracle_errors')}, "
              f"assessment mismatches {orc.get('assessment_mismatches')}, flags "
              f"{orc.get('flags_decide')} vs {orc.get('flags_oracle')}")
    ten = report.get("ten_million")
    if ten:
        run = ten["run"]
        peak = (run.get("peak_rss_mib") or {}).get("process") or run.get("polled_peak_rss_mib")
        print(f"\n== 10M exams: total {fmt(run.get('total_s'))} s (prepare "
              f"{fmt(run.get('prepare_s'))}, load {fmt(run.get('load_s'))}), peak RSS "
              f"{fmt(peak / 1024 if peak else None)} GiB {run.get('error', '')}")


if __name__ == "__main__":
    main()
