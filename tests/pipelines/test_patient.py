"""`dxa patient ID`: one patient's exams, decisions and BMD trend, on the screen or a page.

A hand-built registry (no Prefect): a patient with three exams on one scanner whose
femoral neck loses 10 % between the second and the third (beyond its LSC of 6.9 %: a
significant loss), another patient beside, and the exams judged under two rulesets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import altair as alt
import jsonschema
import polars as pl
import pytest
from exam_rows import make_row, write_csv
from report_registry import _night
from test_report_html import MARKS, chromium_path
from typer.testing import CliRunner

from pipelines import app as application
from pipelines.cli.commands import app
from pipelines.readers.patient import PatientHistory
from pipelines.readers.patient_page import render_page
from pipelines.registry.rulesets import ensure_primary
from pipelines.registry.store import registry

D1, D2, D3 = dt.date(2021, 3, 1), dt.date(2022, 3, 1), dt.date(2023, 3, 1)
CORE, BHOF = "core-2025@3", "bhof-2022@3"


def _exam(exam_id: str, date: str, neck: tuple[str, str, str],
          spine: tuple[str, str, str]) -> dict[str, str]:
    return make_row(exam_id=exam_id, patient_id="SECRET-P1", exam_date=date,
                    femoral_neck_bmd=neck[0], femoral_neck_t=neck[1], femoral_neck_z=neck[2],
                    spine_bmd=spine[0], spine_t=spine[1], spine_z=spine[2])


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("patient")
    rows = [
        _exam("SECRET-E1", "2021-03-01", ("0.700", "-1.8", "-0.9"), ("1.000", "-0.5", "0.2")),
        _exam("SECRET-E2", "2022-03-01", ("0.690", "-1.9", "-1.0"), ("0.990", "-0.6", "0.1")),
        _exam("SECRET-E3", "2023-03-01", ("0.620", "-2.5", "-1.6"), ("0.985", "-0.6", "0.1")),
        make_row(exam_id="SECRET-E9", patient_id="SECRET-P2", exam_date="2023-03-01"),
    ]
    exams = write_csv(folder / "exams.csv", rows)
    path = folder / "registry.duckdb"
    with registry(path) as con:
        _night(con, exams, "run-1", "core-2025")
        ensure_primary(con)  # as the next run does: the first ruleset is the primary one
        _night(con, exams, "run-2", "bhof-2022")  # the latest run judges the exams again
    return path


def _dxa(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_the_tables_show_each_exam_decision_and_change(db: Path) -> None:
    history = application.patient(db, "SECRET-P1")
    exams, decisions, changes = history.sections()
    assert history.ruleset == CORE  # the registry's primary ruleset, as the worklists'
    assert exams.rows == (
        (D1, "HZ-100", "spine", 1.0, -0.5, 0.2),
        (D1, "HZ-100", "femoral_neck", 0.7, -1.8, -0.9),
        (D2, "HZ-100", "spine", 0.99, -0.6, 0.1),
        (D2, "HZ-100", "femoral_neck", 0.69, -1.9, -1.0),
        (D3, "HZ-100", "spine", 0.985, -0.6, 0.1),
        (D3, "HZ-100", "femoral_neck", 0.62, -2.5, -1.6),
    )
    assert decisions.title == f"Decisions under {CORE}"
    untreated = "BASIS-WHO; SITE-LOWEST; WHO-OSTEOPENIA; TX-LOW-RISK; MON-UNTREATED; LIFESTYLE"
    assert decisions.rows == (
        (D1, "osteopenia", "femoral_neck", -1.8, "not_indicated", dt.date(2023, 3, 1),
         untreated, None),
        (D2, "osteopenia", "femoral_neck", -1.9, "not_indicated", dt.date(2024, 3, 1),
         untreated, None),
        (D3, "osteoporosis", "femoral_neck", -2.5, "recommended", dt.date(2024, 3, 1),
         "BASIS-WHO; SITE-LOWEST; WHO-OSTEOPOROSIS; TX-OSTEOPOROSIS; MON-TREATED; LIFESTYLE",
         "SIGNIFICANT_BMD_LOSS: femoral_neck -10.1% vs previous, -11.4% vs baseline"
         " (LSC 6.9%)"),
    )
    # spine LSC 2.77 x 1.9 %, femoral neck 2.77 x 2.5 % = 6.925 %, shown 6.93 (DuckDB 1.5
    # rounds the decimal half away from zero; 2.0 rounded the double just below it: 6.92)
    assert changes.rows == (
        ("spine", D2, "previous", D1, 0.99, 1.0, -1.0, 5.26, False, "stable"),
        ("spine", D3, "previous", D2, 0.985, 0.99, -0.51, 5.26, False, "stable"),
        ("spine", D3, "baseline", D1, 0.985, 1.0, -1.5, 5.26, False, "stable"),
        ("femoral_neck", D2, "previous", D1, 0.69, 0.7, -1.43, 6.93, False, "stable"),
        ("femoral_neck", D3, "previous", D2, 0.62, 0.69, -10.14, 6.93, True, "decrease"),
        ("femoral_neck", D3, "baseline", D1, 0.62, 0.7, -11.43, 6.93, True, "decrease"),
    )


def test_the_screen_names_the_patient_for_authorised_staff(db: Path) -> None:
    code, output = _dxa("patient", "SECRET-P1", "--db", str(db))
    assert code == 0, output
    assert output.splitlines()[0] == (
        "patient SECRET-P1: 3 exams, 2021-03-01 to 2023-03-01; decisions under "
        f"{CORE} (patient identifiers: for authorised staff only)")
    rows = [re.split(r"\s*│\s*", line.strip("│ ")) for line in output.splitlines()
            if line.startswith("│") and "-10.14" in line]
    assert rows == [["femoral_neck", "2023-03-01", "previous", "2022-03-01", "0.62", "0.69",
                     "-10.14", "6.93", "yes", "decrease"]]
    assert "SECRET-P2" not in output and "SECRET-E" not in output  # no other patient, no ids


def test_another_ruleset_is_chosen_with_the_option(db: Path) -> None:
    code, output = _dxa("patient", "SECRET-P1", "--db", str(db), "--ruleset", "bhof-2022")
    assert code == 0, output
    assert f"Decisions under {BHOF}" in output and "TX-OSTEOPOROSIS" not in output
    code, output = _dxa("patient", "SECRET-P1", "--db", str(db), "--ruleset", "nof-1999")
    assert code == 1
    assert output == ("dxa: error: the registry holds no assessments under ruleset 'nof-1999';"
                      f" it holds: {BHOF}, {CORE}\n")


def test_an_unknown_id_is_one_line_that_does_not_repeat_it(db: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    for extra in ([], ["--format", "html", "--output", str(page)]):
        code, output = _dxa("patient", "MRN-0042-UNKNOWN", "--db", str(db), *extra)
        assert (code, output) == (1, "dxa: error: no exams for the given patient id\n")
    assert not page.exists()


class _Page(HTMLParser):
    """The page's elements by id and the text of its scripts (a parse that must succeed)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v for k, v in attrs if k == "id" and v]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _specs(page: str) -> dict[str, dict]:
    """The chart specifications the page embeds; each has its element to draw in."""
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    embed = [s for s in parsed.scripts if "const specs = " in s]
    assert len(embed) == 1
    specs = json.loads(re.search(r"const specs = (.*);\n", embed[0]).group(1))
    assert {f"chart-{site}" for site in specs} <= set(parsed.ids)
    return specs


def _vega_lite_schema() -> dict:
    """The Vega-Lite JSON schema altair ships (the version its charts are written in)."""
    major = alt.SCHEMA_VERSION.split(".")[0]
    schema = resources.files(f"altair.vegalite.{major}.schema") / "vega-lite-schema.json"
    return json.loads(schema.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page_file(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("page") / "page.html"
    target.write_text("an older page, readable by all", encoding="utf-8")
    target.chmod(0o644)
    previous = os.umask(0o022)
    try:
        code, output = _dxa("patient", "SECRET-P1", "--db", str(db), "--format", "html",
                            "--output", str(target))
    finally:
        os.umask(previous)
    assert code == 0, output
    assert output == (f"wrote {target} (3 exams; patient identifiers: for authorised staff"
                      " only)\n")
    return target


def test_the_page_is_private_and_its_charts_are_valid_vega_lite(page_file: Path) -> None:
    assert page_file.stat().st_mode & 0o777 == 0o600  # under umask 022, over a 0644 file
    assert not list(page_file.parent.glob(".*tmp*"))
    page = page_file.read_text(encoding="utf-8")
    assert "<title>DXA history of patient SECRET-P1</title>" in page
    assert "Patient identifiers: for authorised staff only" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for tag in ("<script src", "<link", "<img src=\"http", "@import"):
        assert tag not in page
    specs = _specs(page)
    assert list(specs) == ["spine", "femoral_neck"]  # a chart per site, the contract's order
    validator = jsonschema.Draft7Validator(_vega_lite_schema())
    for site, spec in specs.items():
        assert list(validator.iter_errors(spec)) == [], site
    neck = specs["femoral_neck"]
    layers = {layer["name"]: neck["datasets"][layer["data"]["name"]] for layer in neck["layer"]}
    assert list(layers) == ["lsc_previous", "lsc_baseline", "bmd", "loss"]
    assert [row["bmd_g_cm2"] for row in layers["bmd"]] == [0.7, 0.69, 0.62]
    assert [(row["exam_date"][:10], row["bmd_g_cm2"]) for row in layers["loss"]] == [
        ("2023-03-01", 0.62)]

    def bands(rows: list[dict]) -> list[tuple[str, str, float, float]]:
        return [(row["prior_date"][:10], row["exam_date"][:10], round(row["lower"], 4),
                 round(row["upper"], 4)) for row in rows]

    assert bands(layers["lsc_previous"]) == [
        ("2021-03-01", "2022-03-01", 0.6515, 0.7485),  # 0.70 +- 6.93 %
        ("2022-03-01", "2023-03-01", 0.6422, 0.7378)]  # 0.69 +- 6.93 %: 0.62 falls out
    assert bands(layers["lsc_baseline"]) == [("2021-03-01", "2023-03-01", 0.6515, 0.7485)]
    assert [layer["name"] for layer in specs["spine"]["layer"]] == [
        "lsc_previous", "lsc_baseline", "bmd"]  # no significant change at the spine


def test_text_in_the_data_cannot_break_out_of_the_page() -> None:
    hostile = "HZ</script><script>alert(1)</script>&"
    exams = pl.DataFrame({"exam_date": [D1], "scanner": [hostile], "site": ["spine"],
                          "bmd_g_cm2": [1.0], "t_score": [-0.5], "z_score": [0.2]})
    decisions = pl.DataFrame(
        {"exam_date": [D1], "scanner": [hostile], "category": ["normal"],
         "diagnostic_site": ["spine"], "diagnostic_t_score": [-0.5], "treatment": ["none"],
         "next_dxa_due": [D2], "reasons": ["BASIS-WHO"], "flags": [None]},
        schema_overrides={"flags": pl.String})
    changes = pl.DataFrame(schema={
        "site": pl.String, "exam_date": pl.Date, "comparison": pl.String,
        "prior_date": pl.Date, "scanner": pl.String, "bmd_g_cm2": pl.Float64,
        "prior_bmd_g_cm2": pl.Float64, "pct_change": pl.Float64, "lsc_pct": pl.Float64,
        "significant": pl.Boolean, "direction": pl.String})
    page = render_page(PatientHistory("P<1>&", CORE, exams, decisions, changes))
    # only the Vega bundle's and the embedding script's elements: the name is text
    assert page.count("<script>") == page.count("</script>") == 2
    assert "<td class=\"text\">HZ&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in page
    assert "DXA history of patient P&lt;1&gt;&amp;" in page
    rows = [row for data in _specs(page)["spine"]["datasets"].values() for row in data]
    assert [row["scanner"] for row in rows] == [hostile]  # the data holds it as it is


def test_the_page_draws_offline_in_chromium(page_file: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             chromium_sandbox=False)
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 900})
            context.set_offline(True)
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith("file://")
                          else (problems.append(route.request.url),
                                route.abort("internetdisconnected")))
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(page_file.as_uri())
            page.wait_for_function("document.body.dataset.charts !== 'pending'",
                                   timeout=60_000)
            state = page.evaluate("document.body.dataset.charts")
            drawn = {site: page.locator(f"#chart-{site} svg").locator(MARKS).count()
                     for site in ("spine", "femoral_neck")}
            losses = page.locator("#chart-femoral_neck g.loss_marks path").count()
        finally:
            browser.close()
    assert problems == [] and state == "drawn"
    assert all(drawn.values()), drawn
    assert losses == 1  # the significant loss stands out in red
