"""The README's end-to-end tables come from a results file, and only the marked block
changes (bench.tables)."""

from __future__ import annotations

from pathlib import Path

from bench.tables import END, START, render, rewrite


def _report() -> dict:
    size = {"floor_s": 3.6, "floor_rss_mib": 480.0, "run_s": 9.0, "run_rss_mib": 1100.0,
            "run_minus_fixed_over_floor": 1.25, "run_over_floor": 2.5,
            "run_beyond_stages_s": 4.6, "increment_s": 6.0, "increment_minus_fixed_s": 1.5,
            "increment_rss_mib": 500.0, "increment_beyond_stages_s": 4.5,
            "stages_s": {"insert": 1.0, "read": 0.5}, "increment_stages_s": {"insert": 0.1},
            "commands_s": {"report_table": 2.0, "reassess": 5.0}}
    return {"date": "2026-12-01T17:40:00+00:00", "repeats": 3,
            "loadavg_start": [0.5, 0.4, 0.3], "loadavg_end": [1.0, 0.8, 0.5],
            "floor_sql": "CREATE TABLE exams AS SELECT * FROM read_csv('{csv}')",
            "machine": {"nproc": 2, "python": "3.11.7", "polars": "x", "duckdb": "y",
                        "prefect": "z"},
            "summary": {"fixed_s": 4.5, "fixed_beyond_stages_s": 4.2, "1m": size}}


def test_render_gives_the_ratios_and_verdicts() -> None:
    text = render(_report(), "bench/results/x.json")
    assert "| (`dxa run` - fixed cost) / floor | 1.25x | <= 1.5x at 1M | met |" in text
    assert "| peak RSS of `dxa run` | 1.07 GiB | <= 1.2 GiB at 1M | met |" in text
    assert "| ephemeral Prefect server (default) | 4.50 s" in text
    assert "| running local server (`PREFECT_API_URL`) | not measured | <= 3 s |  |" in text
    assert "load average [0.5, 0.4, 0.3]" in text
    assert "by their stages" not in text  # a results file without that figure


def test_the_increment_by_its_stages_has_its_own_verdict() -> None:
    report = _report()
    report["summary"]["1m"]["increment_stages_above_fixed_s"] = 2.4
    text = render(report, "bench/results/x.json")
    assert ("without the process and server start) | 2.40 s | <= 2 s at 1M | **not met** |"
            in text)


def test_rewrite_replaces_only_the_marked_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{START}\nold\n{END}\nafter\n", encoding="utf-8")
    rewrite(readme, "new")
    assert readme.read_text(encoding="utf-8") == f"before\n{START}\nnew\n{END}\nafter\n"
