"""File versus lake: one canonical CSV of N exams loaded into a new DuckDB-file registry
and into a new DuckLake registry (PostgreSQL catalog, local data folder), each in a fresh
process, alternated so a change in the machine's load falls on both.

    .venv/bin/python -m bench.bench_lake --sizes 100k,1m --repeats 1

What runs is the work of `dxa run` without Prefect: `prepare_input` (read, parse,
validate) and `load_input` (decide, serial comparison, write) through the registry
interface, opened by `pipelines.registry.opening.open_registry` as the flows open it. The
floor beside each is DuckDB alone: `CREATE TABLE exams AS SELECT * FROM read_csv(...)`
into a new file, and into a new lake. Wall seconds are taken from outside; peak RSS is
the child's (`os.wait4`). The PostgreSQL server is started for the run (as the tests start
theirs: `tests/registry/postgres_server.py`, loaded by path) and removed at the end.
JSON: `bench/results/<date>-lake.json`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cases import RESULTS, ROOT, RULESET, canonical_csv, machine, parse_size, size_label

SERVER_MODULE = ROOT / "tests" / "registry" / "postgres_server.py"

#: The child's work: load one CSV into `db` (a file path or a ducklake: address).
LOAD = f"""
import sys, time
from pathlib import Path
from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.lake_address import data_path_given
from pipelines.registry.opening import open_registry
from sources.base import CANONICAL_CSV, ReadOptions
from sources.detect import Input
from transforms.precision import load_precision
csv, db, data = sys.argv[1:4]
ruleset = resolve_ruleset({RULESET!r})
start = time.perf_counter()
prepared = prepare_input(Input(Path(csv), CANONICAL_CSV), ReadOptions())
prepared_s = time.perf_counter() - start
with data_path_given(data or None), open_registry(db).writer() as writer:
    writer.begin_run("bench", ruleset.label)
    outcome = load_input(writer, "bench", ruleset.label, prepared, decider_for(ruleset),
                         load_precision(None))
print(prepared_s, outcome.rows_loaded)
"""

#: The floor: DuckDB alone, the CSV into one table of a new file or a new lake.
FLOOR = """
import sys, duckdb
from pipelines.registry import extensions
csv, db, data = sys.argv[1:4]
con = duckdb.connect(":memory:" if db.startswith("ducklake:") else db)
if db.startswith("ducklake:"):
    extensions.load(con, "ducklake"); extensions.load(con, "postgres")
    con.execute(f"ATTACH '{db}' AS lake (DATA_PATH '{data}')"); con.execute("USE lake")
con.execute(f"CREATE TABLE exams AS SELECT * FROM read_csv('{csv}')")
print(0, con.execute("SELECT count(*) FROM exams").fetchone()[0])
"""


def _server_module() -> Any:
    spec = importlib.util.spec_from_file_location("postgres_server", SERVER_MODULE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["postgres_server"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def child(code: str, csv: Path, db: str, data: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; wall seconds, peak RSS (MiB), its output."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, str(csv), db, data], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    out, err = process.stdout.read(), process.stderr.read()
    if status != 0:
        raise RuntimeError(f"child failed: {err[-1500:]}")
    prepare_s, rows = out.split()[-2:]
    return {"wall_s": round(wall, 2), "prepare_s": round(float(prepare_s), 2),
            "rows_loaded": int(rows), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def one_size(server: Any, n: int, repeats: int, work: Path) -> dict[str, Any]:
    csv = canonical_csv(n)
    found: dict[str, list[dict[str, Any]]] = {k: [] for k in
                                               ("file_floor", "file", "lake_floor", "lake")}
    for i in range(repeats):
        for kind in found:
            if kind.startswith("file"):
                db, data = str(work / f"{kind}-{size_label(n)}-{i}.duckdb"), ""
            else:
                db = "ducklake:postgres:" + server.conninfo(server.fresh_database())
                data = str(work / f"{kind}-{size_label(n)}-{i}-data")
            result = child(FLOOR if kind.endswith("floor") else LOAD, csv, db, data)
            found[kind].append(result)
            print(f"  {size_label(n)} #{i + 1} {kind}: {result}", flush=True)
    return {"n": n, "csv_mib": round(csv.stat().st_size / 2**20, 1), **found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    server_module = _server_module()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dxa-bench-lake-") as work, \
            server_module.running_server() as server:
        sizes = [one_size(server, parse_size(s), args.repeats, Path(work))
                 for s in args.sizes.split(",")]
    target = RESULTS / f"{time.strftime('%Y-%m-%d')}-lake.json"
    target.write_text(json.dumps({"machine": machine(), "sizes": sizes}, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
