"""`dxa measures --format html`: valid Vega-Lite charts, escaped inline JSON and tables,
no identifier, and every chart drawn offline in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import pytest
from measures_registry import build, exam
from test_report_html import chromium_path
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.measures.catalog import measures
from pipelines.readers.measures.compute import build_request, compute
from pipelines.readers.measures.page import measure_chart

HOSTILE = "<script>alert(1)</script>&"
#: 12 first scans of women 50-64 in each quarter of 2024-2025 (one quarter 10: suppressed)
QUARTER_DAYS = [f"{y}-{m:02d}-15" for y in (2024, 2025) for m in (2, 5, 8, 11)]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("measures-page")
    exams = [exam(f"SECRET-E{q}-{i}", f"SECRET-P{q}-{i}", day, bmi=19.0 if i % 3 else 25.0,
                  scanner_serial=HOSTILE if i % 2 else "S-1")
             for q, day in enumerate(QUARTER_DAYS) for i in range(10 if q == 2 else 12)]
    db = build(folder, exams)
    target = folder / "measures.html"
    result = CliRunner().invoke(app, ["measures", "--db", str(db), "--period", "2025Q4",
                                      "--as-of", "2026-03-01", "--by", "scanner",
                                      "--format", "html", "--output", str(target)])
    assert result.exit_code == 0, result.output
    return target


def test_every_chart_is_valid_vega_lite(page_file: Path) -> None:
    db = page_file.parent / "measures.duckdb"
    result = compute(build_request(db, "2025Q4", None, "2026-03-01"))
    for measure in measures():
        spec = measure_chart(measure, result.trend).to_dict()  # validates against the schema
        assert spec["$schema"].startswith("https://vega.github.io/schema/")
    assert isinstance(measure_chart(measures()[0], result.trend), alt.LayerChart)


def test_the_page_escapes_and_names_no_one(page_file: Path) -> None:
    page = page_file.read_text(encoding="utf-8")
    assert "SECRET" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in page  # the serial, in the table
    assert "<script>alert(1)" not in page
    inline = page.split("const specs = ", 1)[1].split(";\n", 1)[0]
    assert not {"<", ">", "&"} & set(inline)
    specs = json.loads(inline)
    assert [s["title"] for s in specs] == [
        f"{m.id}: {'↓' if m.direction == 'lower' else '↑'} {m.better}" for m in measures()]
    (values,) = specs[0]["datasets"].values()  # the band and the line share one dataset
    assert len(values) == 7  # 8 quarters, the one with 10 women suppressed (not drawn)
    assert "2024Q3" not in {v["quarter"] for v in values}
    for tag in ("<script src", "<link", "@import"):
        assert tag not in page


def test_every_chart_draws_offline_in_chromium(page_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             chromium_sandbox=False)
        try:
            context = browser.new_context()
            context.set_offline(True)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(page_file.as_uri())
            page.wait_for_function("document.body.dataset.charts !== 'pending'",
                                   timeout=60_000)
            state = page.evaluate("document.body.dataset.charts")
            drawn = [page.locator(f"#chart-{i} svg").count() for i in range(len(measures()))]
            points = page.locator("#chart-0 svg g.mark-symbol path").count()
        finally:
            browser.close()
    assert problems == [] and state == "drawn"
    assert drawn == [1] * len(measures())
    assert points == 7  # the first measure's line: a point per quarter shown
