"""The benchmark's workers: each runs in its own process (`bench_pipeline --worker KIND`)
and prints one JSON line, so one run's memory never inflates another's."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.cases import LOAD_PARTS, ORACLE, RULESET, remove_db
from bench.probes import Stages, maxrss_mib, process_peak_mib, reset_hwm, vm_hwm_mib


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
        "peak_rss_mib": {**st.peaks, "process": process_peak_mib(st)},
    }


def _fresh_registry(args: dict[str, Any]) -> Path:
    """The run's registry file: removed, or a copy of the history registry `base_db`."""
    db = Path(args["db"])
    remove_db(db)
    if args.get("base_db"):
        shutil.copyfile(args["base_db"], db)
        if Path(args["base_db"] + ".wal").exists():
            shutil.copyfile(args["base_db"] + ".wal", str(db) + ".wal")
    return db


def _timed_load(
    db: Path, args: dict[str, Any], label: str, st: Stages, load: Callable[[Any, str], Any]
) -> tuple[Any, int, dict[str, int]]:
    """Run `load(con, run_id)` in a new run of the registry, timed as stage "load" (and the
    close as "close"); returns its outcome, the history exams and the tables' row counts."""
    from pipelines.registry.ledger import begin_run
    from pipelines.registry.store import registry

    history_rows = 0
    with registry(db) as con:
        if args.get("base_db"):
            history_rows = con.sql("SELECT count(*) FROM exams").fetchall()[0][0]
        run_id = "bench-" + uuid.uuid4().hex[:8]
        begin_run(con, run_id, label)
        outcome = st.run("load", lambda: load(con, run_id))
        counts = {
            t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("exams", "measurements", "assessments", "flags", "bmd_changes", "quarantine")
        }
        reset_hwm()
        start = time.perf_counter()
        con.close()  # registry() closes again: harmless
        st.times["close"] = time.perf_counter() - start
        st.peaks["close"] = vm_hwm_mib()
    return outcome, history_rows, counts


def _standalone(
    st: Stages, db: Path, args: dict[str, Any], item: Any, valid: Any,
    decide_fn: Callable[[Any], Any], precision: Any,
) -> dict[str, float]:
    """Standalone attribution on the same valid frame (after the pipeline: separate peaks)."""
    from pipelines.ingest.plan import serial_frames
    from pipelines.registry.reads import patient_history
    from sources.base import ReadOptions
    from sources.detect import read_input
    from transforms.exam_frame import validate_cells
    from transforms.measurements import SERIAL_EXAM_COLUMNS
    from transforms.serial import compare_serial

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
    return {k: st.times[k] for k in ("decide_alone", "serial_alone", "read_alone",
                                     "validate_alone")}


def worker_full(args: dict[str, Any]) -> dict[str, Any]:
    """prepare_input + load_input into a fresh (or copied-history) registry, with the
    pipeline's own stage timings (`pipelines.runtime.timing`) and standalone re-runs."""
    from pipelines.ingest.decide import decider_for, resolve_ruleset
    from pipelines.ingest.load import load_input
    from pipelines.ingest.prepare import prepare_input
    from pipelines.registry.duckdb_file import writer_for
    from pipelines.runtime.timing import StageTimer
    from sources.base import CANONICAL_CSV, ReadOptions
    from sources.detect import Input
    from transforms.precision import load_precision

    db = _fresh_registry(args)
    ruleset = resolve_ruleset(RULESET)
    precision = load_precision(None)
    decide_fn = decider_for(ruleset)

    timer = StageTimer()  # the load's own stage timings (the pipeline times itself)
    st = Stages()
    item = Input(Path(args["csv"]), CANONICAL_CSV)
    prepared = st.run("prepare", lambda: prepare_input(item, ReadOptions()))
    if prepared.error:
        raise RuntimeError(prepared.error)
    outcome, history_rows, counts = _timed_load(
        db, args, ruleset.label, st,
        lambda con, run_id: load_input(
            writer_for(con), run_id, ruleset.label, prepared, decide_fn, precision, timer
        ),
    )
    process_peak_pipeline = process_peak_mib(st)
    parts = dict(timer.seconds)  # the standalone re-runs below do not add to these
    prepare_parts = dict(prepared.stage_seconds)

    valid = prepared.valid  # None for a large file read in batches (10M)
    extra: dict[str, float] = {}
    if args.get("attribution", True) and valid is not None:
        extra = _standalone(st, db, args, item, valid, decide_fn, precision)
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
                         "process": process_peak_mib(st)},
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
    """decide() vs the row-by-row test oracle (tests/rules/oracle.py decide_patient, each
    patient's exams being its history: clinical rules version 3) on the valid exams of
    one canonical file."""
    decide_patient = _oracle().decide_patient
    from pipelines.ingest.prepare import prepare_input
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
    by_patient: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        by_patient.setdefault(row["patient_id"], []).append(i)
    results: list[Any] = [None] * len(rows)
    errors = 0
    for indexes in by_patient.values():
        try:
            decided = decide_patient([rows[i] for i in indexes], ruleset)
        except Exception:  # noqa: BLE001 - counted and reported
            errors += len(indexes)
            continue
        for i, result in zip(indexes, decided, strict=True):
            results[i] = result
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

    from pipelines.flows.nightly import PlainStages, registry_flow, run_stages
    from pipelines.ingest.settings import resolve_settings

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


Worker = Callable[[dict[str, Any]], dict[str, Any]]
RESULT = "RESULT "


def worker_parser(description: str) -> argparse.ArgumentParser:
    """A benchmark's command line with the hidden worker call (`--worker KIND PAYLOAD`)
    by which the benchmark runs each measurement in a fresh process of its own script."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("payload", nargs="?", help=argparse.SUPPRESS)
    return parser


def worker_main(kind: str, payload: str, workers: Mapping[str, Worker] = WORKERS) -> None:
    """Run one worker on its JSON payload and print its result as one `RESULT` line."""
    out = workers[kind](json.loads(payload))
    print(RESULT + json.dumps(out), flush=True)


def worker_result(stdout: str) -> dict[str, Any] | None:
    """The result a worker printed (its `RESULT` line), or None when it printed none."""
    for line in stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    return None
