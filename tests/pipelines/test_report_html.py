"""The HTML report in a real browser, cut off from the network.

Headless Chromium (Debian's `chromium` package, driven by Playwright without any browser
download) opens the page from a file with every non-file request refused and the context
offline. The test fails on any console error, page error, failed or attempted request, and
on any chart that did not draw (each chart must hold an SVG with marks), and saves a
screenshot under the test's tmp dir. Where Chromium is not installed the test skips and
says so; under CI (`CI` set) it fails instead, since `.ci/run` installs it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from report_registry import AS_OF, DRIFT_MONTHS, build_registry
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.reporting.render_html import html_report

#: Every chart the fixture registry fills (two rulesets: the comparison is drawn too; the
#: measures night: QM-LOW-RISK-SCREEN in two quarters).
CHARTS = ("categories", "treatment", "overdue", "scanner-bmd", "scanner-t", "quarantine",
          "serial", "measure-QM-LOW-RISK-SCREEN", "rulesets", "ruleset-crosstab")
#: The measures suppressed in every quarter of the fixture: not drawn, said so.
SUPPRESSED_MEASURES = ("QM-REPEAT-TOO-SOON", "QM-FOLLOWUP-KEPT", "QM-TREATMENT-GAP",
                       "QM-POST-FRACTURE")

#: Scanner serials that would break an inline script: `<!--<script>` makes the HTML parser
#: swallow the rest of the page, `</script>` ends the script early.
HOSTILE_SERIALS = ("<!--<script>", "</script><script>alert(1)</script>")

#: Vega's SVG marks that carry drawn content.
MARKS = ("g.mark-rect path, g.mark-line path, g.mark-area path, g.mark-symbol path, "
         "g.mark-rule line, g.mark-text text")


def chromium_path() -> str:
    found = os.environ.get("DXA_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if found:
        return found
    reason = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def drifting_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture registry that fills every chart (a drifting scanner, two rulesets);
    its two drift-chart scanners have hostile serials."""
    return build_registry(tmp_path_factory.mktemp("html"), drifting_scanner=True,
                          scanners=HOSTILE_SERIALS, measure_cases=True)


@pytest.fixture(scope="module")
def page_file(drifting_registry: Path) -> Path:
    db = drifting_registry
    target = db.parent / "report.html"
    result = CliRunner().invoke(app, ["report", "--db", str(db), "--as-of", AS_OF,
                                      "--format", "html", "--output", str(target)])
    assert result.exit_code == 0, result.output
    return target


def test_every_chart_is_valid_vega_lite(drifting_registry: Path) -> None:
    """The page embeds the specs unvalidated (`render_page`): each is validated here
    against altair's Vega-Lite schema (`to_dict()` raises on an invalid spec)."""
    from pipelines.readers.reporting.chart_data import chart_data
    from pipelines.readers.reporting.render_html import figures

    with duckdb.connect(str(drifting_registry), read_only=True) as con:
        found = figures(chart_data(con, dt.date.fromisoformat(AS_OF)))
    charts = {f.key: f.chart for f in found if f.chart is not None}
    assert set(charts) == set(CHARTS)
    for key, chart in charts.items():
        assert chart.to_dict()["$schema"].startswith("https://vega.github.io/schema/"), key


def test_the_page_holds_no_identifier_and_no_remote_reference(page_file: Path) -> None:
    page = page_file.read_text(encoding="utf-8")
    assert "SECRET" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for tag in ("<script src", "<link", "<img src=\"http", "@import"):
        assert tag not in page


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_inline_json_holds_no_markup_and_parses_back_to_the_serials(page_file: Path) -> None:
    page = page_file.read_text(encoding="utf-8")
    inline = page.split("const specs = ", 1)[1].split(";\n", 1)[0]
    assert not {"<", ">", "&"} & set(inline)  # written as \u003c, \u003e, \u0026
    assert set(HOSTILE_SERIALS) <= set(_strings(json.loads(inline)))  # exactly as stored
    assert "<script>alert(1)" not in page and "<!--<script>" not in page


def test_every_chart_draws_offline_in_chromium(page_file: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    problems: list[str] = []
    attempted: list[str] = []

    def route(request_route) -> None:  # noqa: ANN001 - playwright Route
        url = request_route.request.url
        if url.startswith("file://"):
            request_route.continue_()
        else:
            attempted.append(url)
            request_route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             chromium_sandbox=False)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_offline(True)
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(page_file.as_uri())
            page.wait_for_function("document.body.dataset.charts !== 'pending'",
                                   timeout=60_000)
            state = page.evaluate("document.body.dataset.charts")
            drawn = {key: page.locator(f"#chart-{key} svg").locator(MARKS).count()
                     for key in CHARTS}
            empty_notes = page.locator("p.empty").count()
            drift_points = page.locator("#chart-scanner-bmd g.drift_marks path").count()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert problems == [] and attempted == []
    assert state == "drawn"
    assert {key: n for key, n in drawn.items() if n == 0} == {}, drawn
    assert empty_notes == len(SUPPRESSED_MEASURES)  # every other chart drew
    assert drift_points == DRIFT_MONTHS  # the drifting scanner's months stand out in red
    assert shot.stat().st_size > 10_000


def test_a_registry_without_the_monthly_view_says_so(page_file: Path) -> None:
    db = page_file.parent / "report.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("BEGIN")
        con.execute("DROP VIEW v_scanner_monthly")
        page = html_report(con, dt.date.fromisoformat(AS_OF), source=db.name)
        con.execute("ROLLBACK")
    assert page.count("this registry has no v_scanner_monthly view yet") == 2
    assert 'id="chart-scanner-bmd"' not in page and 'id="chart-categories"' in page


def test_one_ruleset_draws_no_comparison(tmp_path: Path) -> None:
    db = build_registry(tmp_path, two_rulesets=False)
    with duckdb.connect(str(db), read_only=True) as con:
        page = html_report(con, dt.date.fromisoformat(AS_OF), source=db.name)
    assert 'id="chart-rulesets"' not in page and 'id="chart-overdue"' in page


def test_a_what_if_run_under_another_ruleset_does_not_switch_the_charts(
        tmp_path: Path) -> None:
    """The charts follow the registry's primary ruleset, not the latest run's."""
    from report_registry import _night

    from pipelines.registry.rulesets import ensure_primary
    from pipelines.registry.store import registry

    db = build_registry(tmp_path)
    with registry(db) as con:
        ensure_primary(con)  # as a run does before it records its ruleset
        primary = con.execute("SELECT registry_primary_ruleset()").fetchall()[0][0]
        _night(con, tmp_path / "night2.csv", "run-4", "bhof-2022")  # the latest run now
        page = html_report(con, dt.date.fromisoformat(AS_OF), source=db.name)
    assert primary.startswith("core-2025@")
    assert f"latest exam under {primary}." in page


def test_measures_section_suppresses_small_quarters(drifting_registry: Path) -> None:
    """QM-LOW-RISK-SCREEN: 2025Q3 (12 women, 9 at low risk) and 2025Q4 (11, 9) drawn with
    their counts; 2026Q1 (10) suppressed: neither drawn nor in the page's data."""
    from pipelines.readers.reporting.chart_data import chart_data
    from pipelines.readers.reporting.render_html import figures

    with duckdb.connect(str(drifting_registry), read_only=True) as con:
        found = {f.key: f for f in figures(chart_data(con, dt.date.fromisoformat(AS_OF)))}
    screen = found["measure-QM-LOW-RISK-SCREEN"]
    assert screen.title.startswith("QM-LOW-RISK-SCREEN: ")
    assert "Target direction: lower (↓) is better." in screen.caption
    values = screen.chart.to_dict()["datasets"]
    rows = sorted((r["quarter"], r["denominator"], r["numerator"])
                  for data in values.values() for r in data)
    assert sorted(set(rows)) == [("2025Q3", 12, 9), ("2025Q4", 11, 9)]
    for measure in SUPPRESSED_MEASURES:
        assert found[f"measure-{measure}"].chart is None
        assert found[f"measure-{measure}"].empty == "suppressed (n < 11) in every quarter"
