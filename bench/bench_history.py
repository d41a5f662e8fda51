"""What judging the patient, not the exam, costs: `dxa run`'s load of a file whose
patients have 3-5 exams each, before and after the history stage.

Run from the repository root:

    .venv/bin/python bench/bench_history.py --size 1m --repeats 2
    .venv/bin/python bench/bench_history.py --size 1m --repeats 2 --before ../old-checkout

The input is the sample generator's exams regrouped into patients of 3, 4 or 5 exams
(seeded; a patient keeps the sex of its first row, ages one year per visit, a visit every
~14 months), written once into `bench/cache/`. Each run is `bench_pipeline`'s `full`
worker (prepare_input + load_input into a fresh registry, the pipeline's own stage
seconds, peak RSS per stage) in a fresh process; `--before DIR` runs the same worker from
another checkout (with its own `.venv`) on the same file, so both sides are measured in
one sitting on one machine. Results: a table of medians and `bench/results/<date>-history.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import CACHE, RESULTS, ROOT, machine, parse_size, size_label
from bench.workers import worker_result

SEED = 13
STAGES = ("decide", "history_query", "serial", "insert", "commit")


def history_csv(n: int, seed: int = SEED) -> Path:
    """The cached CSV of n exams in patients of 3-5 exams (generated when missing)."""
    import numpy as np
    import polars as pl

    from samplegen.canonical import generate_exams, to_text

    path = CACHE / f"history-{n}-seed{seed}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    exams = generate_exams(n, seed)
    sizes = np.random.default_rng(seed).integers(3, 6, size=n // 3 + 1)
    patient = np.repeat(np.arange(sizes.size), sizes)[:n]
    first = pl.col("_patient")
    regrouped = exams.with_columns(_patient=pl.Series(patient)).with_columns(
        _visit=pl.int_range(pl.len()).over(first),
        patient_id=pl.format("H{}-{}", pl.lit(seed), first),
        sex=pl.col("sex").first().over(first),
        menopausal_status=pl.col("menopausal_status").first().over(first),
        birth_date=pl.lit(None, dtype=pl.Date),
    ).with_columns(
        exam_date=pl.lit(dt.date(2012, 1, 1)) + pl.duration(days=(first % 400) + 425
                                                            * pl.col("_visit")),
        age_years=pl.col("age_years").first().over(first) + 1.16 * pl.col("_visit"),
    )
    to_text(regrouped.drop("_patient", "_visit"), seed).write_csv(path)
    return path


def _run(checkout: Path, csv: Path, tag: str) -> dict[str, Any]:
    """One `full` worker run from `checkout` (its own interpreter and code)."""
    args = {"csv": str(csv), "db": str(CACHE / f"history-{tag}.duckdb"),
            "attribution": False}
    cmd = [str(checkout / ".venv/bin/python"), "bench/bench_pipeline.py", "--worker", "full",
           json.dumps(args)]
    done = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, check=False)
    result = worker_result(done.stdout)
    if result is None:
        raise RuntimeError(f"{tag}: worker failed: {done.stderr[-2000:]}")
    return result


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    def med(get: Any) -> float:  # noqa: ANN401
        return statistics.median(get(r) for r in runs)

    row = {"total_s": med(lambda r: r["total_s"]), "load_s": med(lambda r: r["load_s"]),
           "peak_rss_mib": med(lambda r: r["peak_rss_mib"]["process"])}
    for stage in STAGES:
        row[f"{stage}_s"] = med(lambda r, s=stage: r["load_parts_s"].get(s, 0.0))
    row["assessments"] = runs[0]["table_rows"]["assessments"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout to measure on the same file (its .venv)")
    args = parser.parse_args(argv)
    n = parse_size(args.size)
    csv = history_csv(n)
    sides = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for i in range(args.repeats):  # alternate the sides: the machine's drift hits both
        for side, checkout in sides.items():
            runs[side].append(_run(checkout, csv, f"{side}-{i}"))
            print(f"  {side} #{i + 1}: {runs[side][-1]['total_s']:.1f} s", flush=True)
    table = {side: _medians(r) for side, r in runs.items()}
    for side, row in table.items():
        print(side.ljust(7), "  ".join(f"{k}={v:,.2f}" for k, v in row.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{dt.date.today().isoformat()}-history-{size_label(n)}.json"
    out.write_text(json.dumps({"machine": machine(), "size": n, "medians": table,
                               "runs": runs}, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
