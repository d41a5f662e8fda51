"""The report model and its renderers: one report, the same numbers in every format,
in clinical and time order, with no identifier anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from report_registry import AS_OF, build_registry
from rich.console import Console
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.report import build_report, render_report
from pipelines.readers.reporting import order
from pipelines.readers.reporting.formats import ReportFormat
from pipelines.readers.reporting.model import Column, Kind, Report, Section, counts, text
from pipelines.readers.reporting.render_text import print_tables
from transforms.rules.ruleset import TREATMENT_LEVELS, WHO_CATEGORIES


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_registry(tmp_path_factory.mktemp("renderers"))


@pytest.fixture(scope="module")
def report(db: Path) -> Report:
    return build_report(db, AS_OF)


def test_overdue_bands_in_time_order_categories_in_clinical_order(report: Report) -> None:
    overdue = report.section("followup_overdue")
    assert [r for r in overdue.rows if r[0] == "core-2025@3"] == [
        ("core-2025@3", "up to 6 months", 1), ("core-2025@3", "6 to 12 months", 1),
        ("core-2025@3", "over 12 months", 3)]
    categories = [r[1] for r in report.section("categories").rows if r[0] == "core-2025@3"]
    assert categories == ["osteoporosis", "osteopenia", "normal"]
    treatment = [r[1] for r in report.section("treatment").rows if r[0] == "core-2025@3"]
    assert treatment == ["recommended", "not_indicated"]
    flags = report.section("flags").rows
    assert [r[:2] for r in flags] == [  # by severity, then count, then code
        ("VERY_HIGH_RISK", "high"), ("SCANNER_CHANGED", "warning"),
        ("SIGNIFICANT_BMD_LOSS", "warning")]


def test_the_sort_key_puts_unknown_values_last_alphabetically() -> None:
    import duckdb

    values = ["zz_new", "normal", "aa_new", "osteoporosis", "osteopenia"]
    got = duckdb.sql(f"SELECT v FROM unnest({values}) t(v) ORDER BY "
                     f"{order.sort_key('v', order.CATEGORIES)}").fetchall()
    assert [v for (v,) in got] == ["osteoporosis", "osteopenia", "normal", "aa_new", "zz_new"]


def test_display_orders_cover_the_rulesets_vocabularies() -> None:
    assert set(WHO_CATEGORIES) <= set(order.CATEGORIES)
    assert [c for c in order.CATEGORIES if c in WHO_CATEGORIES] == list(WHO_CATEGORIES)
    assert [t for t in order.TREATMENTS if t in TREATMENT_LEVELS] == list(TREATMENT_LEVELS)


@pytest.mark.parametrize(("days", "band"), [
    (1, "up to 6 months"), (182, "up to 6 months"), (183, "6 to 12 months"),
    (365, "6 to 12 months"), (366, "over 12 months")])
def test_overdue_band_boundaries(days: int, band: str) -> None:
    import duckdb

    assert duckdb.sql(f"SELECT {order.band_case(str(days))}").fetchall() == [(band,)]


def test_values_keep_their_types(report: Report) -> None:
    latest = report.section("latest_run").as_dicts()[0]
    assert isinstance(latest["started_at"], dt.datetime)
    assert all(isinstance(v, int) for v in report.section("treatment").column("patients"))
    with pytest.raises(TypeError, match="column patients: expected int"):
        Section("s", "s", (text("ruleset"), counts("patients")), (("a", "12"),))
    with pytest.raises(TypeError):
        Section("s", "s", (Column("due", Kind.DATE),), ((dt.datetime(2030, 1, 1),),))


def test_every_format_shows_the_same_counts_and_no_identifier(db: Path,
                                                              report: Report) -> None:
    outputs = {fmt: render_report(report, fmt) for fmt in ReportFormat
               if fmt is not ReportFormat.HTML}
    for fmt, written in outputs.items():
        assert "SECRET" not in written, fmt
        assert "over 12 months" in written and "SIGNIFICANT_BMD_LOSS" in written, fmt
    rows = list(csv.DictReader(io.StringIO(outputs[ReportFormat.CSV])))
    overdue = [r for r in rows if r["section"] == "followup_overdue"]
    assert [(r["ruleset"], r["overdue"], r["patients"]) for r in overdue][:3] == [
        ("bhof-2022@3", "6 to 12 months", "1"), ("bhof-2022@3", "over 12 months", "3"),
        ("core-2025@3", "up to 6 months", "1")]
    assert overdue[0]["code"] == ""  # a column of another section stays blank
    parsed = json.loads(outputs[ReportFormat.JSON])
    assert [s["section"] for s in parsed["sections"]] == [s.key for s in report.sections]
    markdown = outputs[ReportFormat.MARKDOWN]
    assert "| core-2025@3 | over 12 months | 3 |" in markdown
    assert "| ruleset | overdue | patients |\n|---|---|---:|" in markdown
    assert "│ core-2025@3 │ over 12 months │        3 │" in outputs[ReportFormat.TABLE]


def test_table_escapes_markup_and_prints_the_note() -> None:
    files = Section("files", "inputs", (text("path"), counts("rows")),
                    (("exams [draft] v2.csv", 3),), note="the list: [bold]x[/bold]")
    buffer = io.StringIO()
    print_tables(Report("run", "t", dt.date(2030, 1, 1), (files,)),
                 Console(file=buffer, width=100))
    assert "exams [draft] v2.csv" in buffer.getvalue()
    assert "the list: [bold]x[/bold]" in buffer.getvalue()


def test_dxa_report_writes_each_format_to_a_file(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt in ("table", "csv", "json", "markdown", "html"):
        target = tmp_path / f"report.{fmt}"
        result = runner.invoke(app, ["report", "--db", str(db), "--as-of", AS_OF,
                                     "--format", fmt, "--output", str(target)])
        assert result.exit_code == 0, result.output
        written = target.read_text(encoding="utf-8")
        assert "over 12 months" in written and "SECRET" not in written, fmt
    assert written.startswith("<!DOCTYPE html>")
    no_file = runner.invoke(app, ["report", "--db", str(db), "--format", "html"])
    assert no_file.exit_code == 1 and "--output" in no_file.output


def test_dxa_report_reads_the_reporting_copy_in_the_current_folder(
        db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copyfile(db, tmp_path / "registry.report.duckdb")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["report", "--as-of", AS_OF, "--format", "html",
                                      "--output", "report.html"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
