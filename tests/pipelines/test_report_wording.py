"""The quality page as a clinician-manager reads it: labels, not codes; dates in words.

Every code of the registry's vocabularies has a label (`labels.py`), no label reads like
a code, and the sample registry's page, opened in headless Chromium, shows no treatment,
category, flag, reason or rule code, no strftime pattern and no "must be 0" outside its
collapsed analysts' part, which holds the codes and the SQL instead. Its monthly T-score
chart draws one line per panel (a scanner at a site), each with the registry's mean.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
from sample_registry import shared_sample_copy
from test_report_html import chromium_path

from pipelines.readers.reporting import labels, order
from pipelines.readers.reporting.human import date_patterns, day, moment
from pipelines.readers.reporting.render_html import html_report
from schemas.reasons import REASONS
from schemas.vocabulary import RunStatus, Severity
from transforms.rules.catalog import RULES
from transforms.rules.flags import FLAG_SEVERITY
from transforms.serial import SERIAL_FLAG_CODES
from transforms.treatment_course import TREATMENT_COURSE_FLAG_CODES

#: The assessment bases, shown where an exam has no category.
BASES = ("who_t_score", "iscd_z_score", "not_assessed")

#: Every text node a reader sees: not scripts or styles, not the analysts' part.
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || ['SCRIPT', 'STYLE'].includes(parent.tagName)
        || parent.closest('details.analysts')) continue;
    out.push(node.textContent);
  }
  return out.join('\\n');
}"""

#: Per panel of the monthly T-score chart: [lines drawn, reference lines drawn].
T_PANELS = """() => [...document.querySelectorAll('#chart-scanner-t g.cell > g')].map(cell =>
  [cell.querySelectorAll('g.mark-line path').length,
   cell.querySelectorAll('g.registry_mean_marks line').length])"""


def raw_codes(text: str) -> list[str]:
    """The codes in `text` that must not reach a reader: any vocabulary's multi-word code
    or rule ID as a word of its own (a quarantine message may name the export's column
    `total_hip_bmd`, which is the file's own word, not the site code `total_hip`), a
    rule family's prefix, a strftime directive, a "must be 0"."""
    codes = [code for vocabulary in labels.LABELS.values() for code in vocabulary
             if "_" in code] + [rule.id for rule in RULES]
    found = [code for code in codes
             if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)]
    return found + [part for part in ("TX-", "WHO-", "WHO_", "BHOF-", "%Y", "%m", "%d",
                                      "must be 0") if part in text]


def test_every_code_of_every_vocabulary_has_a_label() -> None:
    assert set(order.TREATMENTS) == set(labels.TREATMENT_LABELS)
    assert set(order.CATEGORIES) | set(BASES) == set(labels.CATEGORY_LABELS)
    assert set(order.SITES) == set(labels.SITE_LABELS)
    assert (set(FLAG_SEVERITY) | set(SERIAL_FLAG_CODES) | set(TREATMENT_COURSE_FLAG_CODES)
            == set(labels.FLAG_LABELS))
    assert set(REASONS) == set(labels.REASON_LABELS)
    assert set(Severity) == set(labels.SEVERITY_LABELS)
    assert set(RunStatus) == set(labels.RUN_STATUS_LABELS)
    assert set(labels.Vocabulary) == set(labels.LABELS) == set(labels.HEADINGS)


def test_no_label_reads_like_a_code() -> None:
    for vocabulary, words in labels.LABELS.items():
        assert len(set(words.values())) == len(words), vocabulary  # a legend tells them apart
        for code, text in words.items():
            assert text != code and text[:1].isupper(), (code, text)
            assert not re.search(r"[{}%]|\b[A-Za-z0-9]+_[A-Za-z0-9_]+\b", text), (code, text)


def test_reason_labels_come_from_the_reasons_wording() -> None:
    assert labels.REASON_LABELS["NOT_A_NUMBER"] == "Not a number"  # `{column}: is not a number`
    assert labels.REASON_LABELS["BELOW_RANGE"] == "Below its plausible range"
    assert set(labels._FIXED_REASON_LABELS) <= set(REASONS)  # no stale fixed label
    assert labels.label("reason", "other reasons") == "Other reasons"
    assert labels.label("treatment", "a_new_level") == "A new level"  # never fails on one


def test_dates_read_as_people_write_them() -> None:
    assert day(dt.date(2026, 12, 6)) == "6 Dec 2026"
    assert moment(dt.datetime(2026, 1, 31, 8, 5, 59)) == "31 Jan 2026, 08:05"
    assert (date_patterns("exam_date: is not a real date in the form %Y-%m-%d")
            == "exam_date: is not a real date in the form YYYY-MM-DD")
    assert date_patterns("in the form %d/%m/%Y or %d.%m.%y") == (
        "in the form DD/MM/YYYY or DD.MM.YY")
    assert date_patterns("spine -6.1% vs previous (LSC 5.3%)") == (
        "spine -6.1% vs previous (LSC 5.3%)")


def test_a_column_of_moments_reads_as_each_moment() -> None:
    import polars as pl

    from pipelines.readers.reporting.human import moment_expr

    values = [dt.datetime(2026, m, d, h, 5) for m, d, h in ((1, 31, 8), (12, 6, 23), (7, 1, 0))]
    column = pl.DataFrame({"at": values}).select(moment_expr("at")).to_series().to_list()
    assert column == [moment(v) for v in values]


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of the sample registry: every treatment level, flag and many reasons."""
    copy = shared_sample_copy(tmp_path_factory)
    with duckdb.connect(str(copy), read_only=True) as con:
        text = html_report(con, dt.date(2026, 12, 6), source=copy.name)
    page = tmp_path_factory.mktemp("wording") / "report.html"
    page.write_text(text, encoding="utf-8")
    return page


def _read_in_chromium(page_file: Path) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             chromium_sandbox=False)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.set_offline(True)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(page_file.as_uri())
            page.wait_for_function("document.body.dataset.charts !== 'pending'",
                                   timeout=60_000)
            return {
                "charts": page.evaluate("document.body.dataset.charts"),
                "errors": errors,
                "visible": page.evaluate(VISIBLE_TEXT),
                "analysts_open": page.evaluate(
                    "document.querySelector('details.analysts').open"),
                "analysts": page.evaluate(
                    "document.querySelector('details.analysts').textContent"),
                "t_panels": page.evaluate(T_PANELS),
            }
        finally:
            browser.close()


@pytest.fixture(scope="module")
def seen(sample_page: Path) -> dict[str, object]:
    return _read_in_chromium(sample_page)


def test_the_page_shows_labels_and_keeps_codes_for_analysts(seen: dict[str, object]) -> None:
    assert seen["charts"] == "drawn" and seen["errors"] == []
    visible, analysts = str(seen["visible"]), str(seen["analysts"])
    assert raw_codes(visible) == []
    assert raw_codes("needs_risk_assessment, TX-OSTEOPOROSIS") == [  # the check sees them
        "needs_risk_assessment", "TX-OSTEOPOROSIS", "TX-"]
    for words in ("Needs a fracture-risk assessment", "Osteopenia (low bone mass)",
                  "Significant bone loss on treatment", "Lumbar spine", "Women",
                  "A required value is missing", "in the form YYYY-MM-DD",
                  "6 Dec 2026", "above 0: some exams are counted twice"):
        assert words in visible, words
    assert seen["analysts_open"] is False  # collapsed until an analyst opens it
    for code in ("needs_risk_assessment", "LOSS_ON_TREATMENT", "NOT_A_DATE", "femoral_neck",
                 "SELECT * FROM followup_overdue(DATE '2026-12-06') WHERE ruleset = "):
        assert code in analysts, code


def test_the_monthly_t_score_chart_draws_one_line_per_panel(
        tmp_path_factory: pytest.TempPathFactory, seen: dict[str, object]) -> None:
    """One panel per scanner and site that has exams: one line and one reference each."""
    with duckdb.connect(str(shared_sample_copy(tmp_path_factory)), read_only=True) as con:
        panels = con.execute("SELECT count(*) FROM (SELECT DISTINCT scanner_serial, site "
                             "FROM v_scanner_monthly)").fetchall()[0][0]
    assert panels > 4  # several scanners: a line each, over each other in one panel
    assert seen["t_panels"] == [[1, 1]] * panels
