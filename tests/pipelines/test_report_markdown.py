"""The `dxa report` sections as markdown for the flow's Prefect artifact.

Built with the plain load functions (no Prefect). Patient and exam ids are made easy to spot
so that any leak into the markdown shows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from exam_rows import make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.readers.report import build_report
from pipelines.readers.reporting.model import Report, Section, counts, text
from pipelines.readers.reporting.render_text import to_markdown as report_markdown
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run, finish_run
from pipelines.registry.outcome import RunSummary
from pipelines.registry.store import registry
from sources.detect import discover
from transforms.precision import load_precision

PATIENT = "PAT-SECRET-7"
EXAMS = ("EXAM-SECRET-1", "EXAM-SECRET-2", "EXAM-SECRET-BAD")


def spine(exam_id: str, date: str, bmd: float, **extra: object) -> dict[str, str]:
    return make_row(exam_id=exam_id, patient_id=PATIENT, exam_date=date, spine_bmd=bmd,
                    spine_t=-1.5, spine_z=-0.5, **extra)


def load_night(con: duckdb.DuckDBPyConnection, path: Path, run_id: str) -> None:
    """One night's run recorded in `runs`, its file loaded with load_input (no flow)."""
    ruleset = resolve_ruleset("core-2025")
    summary = RunSummary(run_id=run_id, ruleset=ruleset.label, db_path="", status="completed")
    begin_run(con, run_id, ruleset.label)
    inputs, _ = discover([path])
    summary.files.append(load_input(writer_for(con),
                                    run_id, ruleset.label, prepare_input(inputs[0]),
                                    decider_for(ruleset), load_precision()))
    finish_run(con, summary)


def registry_with_ids(tmp_path: Path) -> Path:
    """Two exams with a significant spine loss, and one quarantined row (invalid sex)."""
    db = tmp_path / "r.duckdb"
    night = write_csv(tmp_path / "n.csv", [
        spine(EXAMS[0], "2021-01-10", 1.000),
        spine(EXAMS[1], "2022-01-10", 0.900),
        spine(EXAMS[2], "2022-02-10", 0.900, sex="Q"),
    ])
    with registry(db) as con:
        load_night(con, night, "run-1")
    return db


def test_markdown_shows_every_report_section_and_no_identifiers(tmp_path: Path) -> None:
    report = build_report(registry_with_ids(tmp_path), "2030-01-01")
    markdown = report_markdown(report)
    assert markdown.startswith("## Registry at a glance (as of 2030-01-01)")
    for section in report.sections:
        assert f"### {section.title}" in markdown
    assert "| core-2025@3 | over 12 months | 1 |" in markdown
    assert "| SIGNIFICANT_BMD_LOSS | warning | 1 |" in markdown
    assert "| rows quarantined | 1 |" in markdown and "| status | completed |" in markdown
    assert "### latest run: quarantine reasons" in markdown
    for identifier in (PATIENT, *EXAMS):
        assert identifier not in markdown


def test_markdown_cells_cannot_break_the_table() -> None:
    import datetime as dt

    flags = Section("flags", "flags", (text("code"), counts("flags")), (("A|B\nC", 2),))
    markdown = report_markdown(Report("registry", "t", dt.date(2030, 1, 1), (flags,)))
    assert "| A\\|B C | 2 |" in markdown
