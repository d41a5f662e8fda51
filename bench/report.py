"""The benchmark's results: medians over repeats (max of peaks) into `summary` blocks,
and the table printed at the end of a run."""

from __future__ import annotations

import statistics
from typing import Any

from bench.cases import LOAD_PARTS


def _values(runs: list[dict[str, Any]], path: tuple[str, ...]) -> list[float]:
    """The numbers at `path` in each run (runs without one, or with an error, skipped)."""
    values = []
    for run in runs:
        v: Any = run
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            values.append(float(v))
    return values


def median_of(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = _values(runs, path)
    return statistics.median(values) if values else None


def max_of(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = _values(runs, path)
    return max(values) if values else None


def fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


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
        peak = max((run.get("peak_rss_mib") or {}).get("process") or 0.0,
                   run.get("polled_peak_rss_mib") or 0.0)
        print(f"\n== 10M exams: total {fmt(run.get('total_s'))} s (prepare "
              f"{fmt(run.get('prepare_s'))}, load {fmt(run.get('load_s'))}), peak RSS "
              f"{fmt(peak / 1024 if peak else None)} GiB {run.get('error', '')}")
