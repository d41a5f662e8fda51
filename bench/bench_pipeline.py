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

This module is the command line and the parent; what it runs on is in `cases`, the
workers in `workers`, the probes in `probes`, the medians and the table in `report`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not __package__:  # run by path (`bench/bench_pipeline.py`, the workers, bench_reassess)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # so `bench.` resolves

from bench.cases import (
    CACHE,
    PREFECT_HOME,
    RESULTS,
    ROOT,
    RULESET,
    SEED,
    canonical_csv,
    increment_csv,
    machine,
    parse_size,
    size_label,
)
from bench.probes import child_rss_mib, maxrss_mib, reset_hwm, vm_hwm_mib
from bench.report import fmt, print_table, summarise
from bench.workers import worker_main, worker_parser, worker_result

#: What the sibling benchmarks import from this module (bench_reassess, run by path, and
#: bench.tables); bench_e2e imports the cases from `bench.cases` itself.
__all__ = [
    "CACHE",
    "RESULTS",
    "ROOT",
    "canonical_csv",
    "main",
    "maxrss_mib",
    "parse_size",
    "reset_hwm",
    "run_worker",
    "size_label",
    "vm_hwm_mib",
    "worker_main",
    "worker_parser",
    "worker_result",
]


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
            rss = child_rss_mib(proc.pid)
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
    result = worker_result(stdout)
    if result is not None:
        result["subprocess_wall_s"] = wall
        result["polled_peak_rss_mib"] = polled_peak
        return result
    return {
        "error": killed or f"worker exited {proc.returncode}",
        "stderr_tail": stderr[-3000:],
        "subprocess_wall_s": wall,
        "polled_peak_rss_mib": polled_peak,
    }


def _parser() -> argparse.ArgumentParser:
    parser = worker_parser(__doc__)
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
    return parser


class Bench:
    """One benchmark run: its options, the report it fills and the file it saves to."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = [parse_size(s) for s in args.sizes.split(",") if s]
        self.history_sizes = (
            [parse_size(s) for s in args.history_sizes.split(",") if s]
            if args.history_sizes
            else [s for s in self.sizes if s <= 1_000_000]
        )
        self.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
        self.label = args.label or "-".join(size_label(s) for s in self.sizes)
        self.guard = {"rss_limit_gib": args.rss_limit_gib}
        CACHE.mkdir(parents=True, exist_ok=True)
        self.tmp = CACHE / "tmp"
        self.tmp.mkdir(exist_ok=True)
        self.report: dict[str, Any] = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "label": self.label,
            "command": " ".join([".venv/bin/python -m bench.bench_pipeline", *sys.argv[1:]]),
            "machine": machine(),
            "seed": SEED,
            "repeats": args.repeats,
            "ruleset": RULESET,
            "sizes": {},
        }

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{dt.date.today().isoformat()}-{self.label}.json"
        path.write_text(json.dumps(self.report, indent=2) + "\n")
        return path

    def repeated(
        self, kind: str, what: str, make_args: Callable[[int], dict[str, Any]], timeout: float
    ) -> list[dict[str, Any]]:
        """`--repeats` runs of one worker; make_args(r) gives run r's payload."""
        runs = []
        for r in range(self.args.repeats):
            res = run_worker(kind, make_args(r), timeout_s=timeout, **self.guard)
            runs.append(res)
            print(f"  {what} #{r + 1}: {fmt(res.get('total_s'))} s {res.get('error', '')}",
                  flush=True)
        return runs

    def sizes_part(self) -> None:
        """1 + 2: I/O floor and full pipeline per size."""
        for n in self.sizes:
            csv = canonical_csv(n)
            entry: dict[str, Any] = {"rows": n, "csv": csv.name,
                                     "csv_mib": csv.stat().st_size / 2**20}
            self.report["sizes"][size_label(n)] = entry
            timeout = max(600.0, n / 1_000_000 * 300)
            if "io" not in self.skip:
                io_db = str(self.tmp / f"io-{n}.duckdb")
                entry["io_floor"] = {"runs": self.repeated(
                    "io_floor", f"io_floor {size_label(n)}",
                    lambda _r, io_db=io_db, csv=csv: {"csv": str(csv), "db": io_db}, timeout)}
            if "full" not in self.skip:
                entry["full"] = {"runs": self.repeated(
                    "full", f"full {size_label(n)}",
                    lambda r, n=n, csv=csv: self._full_args(r, n, csv), timeout)}
            self.save()

    def _full_args(self, r: int, n: int, csv: Path) -> dict[str, Any]:
        """The last repeat of a history size keeps its registry for the increment."""
        keep = r == self.args.repeats - 1 and n in self.history_sizes
        db = CACHE / f"history-{n}.duckdb" if keep else self.tmp / f"full-{n}.duckdb"
        return {"csv": str(csv), "db": str(db), "keep_db": keep}

    def increment_part(self) -> None:
        """3: nightly increment on top of each history size."""
        if "increment" in self.skip or not self.history_sizes:
            return
        smallest = canonical_csv(min(self.history_sizes))
        inc_csv, info = increment_csv(smallest)
        inc: dict[str, Any] = {**info, "csv": inc_csv.name, "by_history": {}}
        self.report["increment"] = inc
        for h in self.history_sizes:
            base = CACHE / f"history-{h}.duckdb"
            if not base.exists() or "full" in self.skip or h not in self.sizes:
                print(f"  building history registry of {size_label(h)} exams", flush=True)
                res = run_worker("full", {"csv": str(canonical_csv(h)), "db": str(base),
                                          "keep_db": True, "attribution": False},
                                 timeout_s=900, **self.guard)
                if "error" in res:
                    inc["by_history"][size_label(h)] = {"error": res}
                    continue
            payload = {"csv": str(inc_csv), "db": str(self.tmp / "inc.duckdb"),
                       "base_db": str(base)}
            inc["by_history"][size_label(h)] = {"runs": self.repeated(
                "full", f"increment on {size_label(h)} history",
                lambda _r, payload=payload: payload, 600)}
        self.save()

    def prefect_part(self) -> None:
        """4: Prefect's fixed overhead."""
        if "prefect" in self.skip:
            return
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
        self.report["prefect"] = pf
        for r in range(self.args.repeats + 1):  # the first process may be a cold PREFECT_HOME
            res = run_worker("prefect", {"tiny_csv": str(tiny), "small_csv": str(small),
                                         "workdir": str(self.tmp / f"prefect-{r}")},
                             timeout_s=600, env=env, **self.guard)
            res["process_no"] = r + 1
            pf["runs"].append(res)
            print(f"  prefect process #{r + 1}: first flow "
                  f"{fmt(res.get('flow_first_in_process_tiny_s'))} s, flow tiny "
                  f"{fmt(res.get('flow_tiny_s'))} s, plain tiny {fmt(res.get('plain_tiny_s'))} s,"
                  f" flow 10k {fmt(res.get('flow_small_s'))} s, plain 10k "
                  f"{fmt(res.get('plain_small_s'))} s {res.get('error', '')}", flush=True)
        self.save()

    def oracle_part(self) -> None:
        """5: row-by-row oracle."""
        if "oracle" in self.skip:
            return
        n = parse_size(self.args.oracle_size)
        res = run_worker("oracle", {"csv": str(canonical_csv(n)), "repeats": self.args.repeats},
                         timeout_s=900, **self.guard)
        res["size"] = n
        self.report["oracle"] = res
        print(f"  oracle {size_label(n)}: {fmt(res.get('oracle_s'))} s vs decide "
              f"{fmt(res.get('decide_s'), '.3f')} s {res.get('error', '')}", flush=True)
        self.save()

    def ten_million_part(self) -> None:
        """6: 10M exams (optional)."""
        if not self.args.with_10m:
            return
        n = 10_000_000
        csv = canonical_csv(n)
        res = run_worker("full", {"csv": str(csv), "db": str(self.tmp / "full-10m.duckdb"),
                                  "attribution": False}, timeout_s=3600, **self.guard)
        self.report["ten_million"] = {"rows": n, "csv_mib": csv.stat().st_size / 2**20,
                                      "run": res, "rss_limit_gib": self.args.rss_limit_gib}
        peak = max((res.get("peak_rss_mib") or {}).get("process", 0.0),
                   res["polled_peak_rss_mib"])
        print(f"  10m: {fmt(res.get('total_s'))} s, peak {fmt(peak / 1024)} GiB "
              f"{res.get('error', '')}", flush=True)
        self.save()


def main() -> None:
    args = _parser().parse_args()
    if args.worker:
        worker_main(args.worker, args.payload)
        return
    bench = Bench(args)
    print(f"machine: {json.dumps(bench.report['machine'])}", flush=True)
    bench.sizes_part()
    bench.increment_part()
    bench.prefect_part()
    bench.oracle_part()
    bench.ten_million_part()
    summarise(bench.report)
    path = bench.save()
    print_table(bench.report)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
