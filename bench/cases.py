"""What the pipeline benchmark runs on: paths, seeds, sizes, the cached canonical CSVs
and the nightly increment, and a description of the machine for the results JSON."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CACHE = BENCH / "cache"
RESULTS = BENCH / "results"
PREFECT_HOME = CACHE / "prefect-home"

#: The load's stages as the pipeline records them (`pipelines.runtime.timing.Stage`), and the rest.
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
