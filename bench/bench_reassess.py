"""Benchmark of `dxa reassess`: seconds and peak RSS to re-judge N stored exams.

Run from the repository root:

    .venv/bin/python bench/bench_reassess.py --sizes 100k [--batch-size 200000]

For each size, the cached canonical CSV of bench_pipeline (seed 11) is loaded once under
core-2025 into `bench/cache/reassess-base-<n>.duckdb` (a fresh subprocess). Then, in
another fresh subprocess, a copy of that registry is re-assessed under bhof-2022 with
the flow's own function (`pipelines.ingest.reassess.reassess_registry`, all batches in one
transaction, as `dxa reassess` does without Prefect's start-up): the figure is that
call's wall time and the process's peak RSS while it ran (VmHWM, reset before the call).
Results: one line per size on stdout and JSON in `bench/results/<date>-reassess.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import (  # noqa: E402 - the sibling script's helpers
    CACHE,
    RESULTS,
    ROOT,
    canonical_csv,
    maxrss_mib,
    parse_size,
    reset_hwm,
    size_label,
    vm_hwm_mib,
    worker_main,
    worker_parser,
    worker_result,
)

BASE_RULESET, WHAT_IF = "core-2025", "bhof-2022"


def worker_load(args: dict[str, Any]) -> dict[str, Any]:
    """Load the CSV into a fresh registry under the base ruleset (plain stages)."""
    from pipelines.ingest.decide import decider_for, resolve_ruleset
    from pipelines.ingest.load import load_input
    from pipelines.ingest.prepare import prepare_input
    from pipelines.registry.duckdb_file import writer_for
    from pipelines.registry.ledger import begin_run
    from pipelines.registry.rulesets import check_ruleset, record_ruleset
    from pipelines.registry.store import registry
    from sources.base import CANONICAL_CSV, ReadOptions
    from sources.detect import Input
    from transforms.precision import load_precision

    ruleset = resolve_ruleset(BASE_RULESET)
    prepared = prepare_input(Input(Path(args["csv"]), CANONICAL_CSV), ReadOptions())
    with registry(args["db"]) as con:
        begin_run(con, "bench-load", ruleset.label)
        record_ruleset(con, check_ruleset(con, ruleset))
        outcome = load_input(writer_for(con),
                             "bench-load", ruleset.label, prepared, decider_for(ruleset),
                             load_precision(None))
        con.execute("UPDATE runs SET status = 'completed', finished_at = now()")
    return {"exams": outcome.rows_loaded}


def worker_reassess(args: dict[str, Any]) -> dict[str, Any]:
    """Re-assess a copy of the base registry under the what-if ruleset; time and peak."""
    from pipelines.ingest.decide import decider_for, resolve_ruleset
    from pipelines.ingest.reassess import reassess_registry
    from pipelines.registry.duckdb_file import writer_for
    from pipelines.registry.store import registry

    ruleset = resolve_ruleset(WHAT_IF)
    decide = decider_for(ruleset)
    with registry(args["db"]) as con:
        before = vm_hwm_mib() if reset_hwm() else float("nan")
        start = time.perf_counter()
        counts = reassess_registry(writer_for(con), "bench-reassess", ruleset, decide,
                                   batch_size=args["batch_size"])
        seconds = time.perf_counter() - start
        peak = vm_hwm_mib()
    return {"exams": counts.assessments_added, "batches": counts.batches,
            "seconds": seconds, "peak_rss_mib": peak, "rss_before_mib": before,
            "process_maxrss_mib": maxrss_mib()}


WORKERS = {"load": worker_load, "reassess": worker_reassess}


def run_worker(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, json.dumps(args)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    result = worker_result(done.stdout)
    if result is not None:
        return result
    raise RuntimeError(f"{kind} worker failed: {done.stderr[-2000:]}")


def main() -> None:
    parser = worker_parser(__doc__)
    parser.add_argument("--sizes", default="100k", help="exam counts, e.g. 100k,1m")
    parser.add_argument("--batch-size", type=int, default=200_000)
    opts = parser.parse_args()
    if opts.worker:
        worker_main(opts.worker, opts.payload, WORKERS)
        return
    results = []
    for n in (parse_size(s) for s in opts.sizes.split(",")):
        base = CACHE / f"reassess-base-{size_label(n)}.duckdb"
        if not base.exists():
            tmp = base.with_suffix(".tmp.duckdb")
            tmp.unlink(missing_ok=True)
            loaded = run_worker("load", {"csv": str(canonical_csv(n)), "db": str(tmp)})
            tmp.replace(base)
            print(f"  loaded {loaded['exams']:,} exams into {base.name}", flush=True)
        work = CACHE / f"reassess-work-{size_label(n)}.duckdb"
        shutil.copyfile(base, work)
        result = run_worker("reassess", {"db": str(work), "batch_size": opts.batch_size})
        work.unlink()
        result["size"] = n
        results.append(result)
        print(f"{size_label(n):>5}: reassessed {result['exams']:,} exams in"
              f" {result['batches']} batches: {result['seconds']:.1f} s, peak RSS"
              f" {result['peak_rss_mib']:.0f} MiB", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{dt.date.today()}-reassess.json"
    out.write_text(json.dumps({"batch_size": opts.batch_size, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
