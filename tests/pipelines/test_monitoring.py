"""Serial exams through the whole flow, report views, overdue follow-up and `dxa report`.

Flow tests need the Prefect harness; the view and report tests build registries with the
plain load functions, which is much cheaper.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from importlib import resources
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv
from lock_holder import write_lock_held
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.flows.nightly import registry_flow
from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.readers import report as report_module
from pipelines.readers.report import ReportError, build_report, collect_report
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.publish import reporting_copy_path
from pipelines.registry.store import migrate, registry
from sources.detect import discover
from transforms.precision import load_precision

VIEWS = ("v_latest_assessment", "v_treatment_candidates", "v_followup_overdue",
         "v_data_quality", "v_scanner_summary", "v_run_history")


def spine_exam(exam_id: str, date: str, bmd: float, serial: str = "S1", **extra) -> dict:
    return make_row(exam_id=exam_id, patient_id="P-9", exam_date=date, scanner_serial=serial,
                    spine_bmd=bmd, spine_t=-1.5, spine_z=-0.5, **extra)


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.usefixtures("prefect_harness")
def test_changes_across_runs_and_inside_one_batch(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    night1 = write_csv(tmp_path / "n1.csv", [spine_exam("X1", "2021-01-10", 1.000)])
    night2 = write_csv(tmp_path / "n2.csv", [
        spine_exam("X2", "2022-01-10", 0.948),                    # -5.2%: within LSC 5.263
        spine_exam("X3", "2023-01-10", 0.890, on_treatment="yes"),  # -6.1% on treatment
        spine_exam("X4", "2024-01-10", 0.800, serial="S2"),        # other scanner: no verdict
    ])
    registry_flow(paths=[str(night1)], db=str(db))
    registry_flow(paths=[str(night2)], db=str(db))
    changes = rows(db, "SELECT exam_id, comparison, prior_exam_id, round(pct_change, 2),"
                       " lsc_pct, lsc_source, significant, direction, days_between,"
                       " region_verified FROM bmd_changes WHERE site = 'spine'"
                       " ORDER BY exam_id, comparison")
    assert changes == [
        ("X2", "previous", "X1", -5.2, 5.263, "default", False, "stable", 365, True),
        ("X3", "baseline", "X1", -11.0, 5.263, "default", True, "decrease", 730, True),
        ("X3", "previous", "X2", -6.12, 5.263, "default", True, "decrease", 365, True),
    ]
    flags = rows(db, "SELECT exam_id, code, severity, detail FROM flags WHERE code IN"
                     " ('SIGNIFICANT_BMD_LOSS', 'LOSS_ON_TREATMENT', 'SCANNER_CHANGED')"
                     " ORDER BY exam_id, detail")
    assert flags == [
        ("X3", "LOSS_ON_TREATMENT", "high",
         "spine -6.1% vs previous, -11.0% vs baseline (LSC 5.3%)"),
        ("X4", "SCANNER_CHANGED", "warning", "femoral_neck: no earlier exam on this scanner"),
        ("X4", "SCANNER_CHANGED", "warning", "spine: no earlier exam on this scanner"),
    ]


@pytest.mark.usefixtures("prefect_harness")
def test_views_and_overdue_as_of_several_dates(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [
        # osteopenia, not treated: next DXA due at +24 months (2024-03-01 -> 2026-03-01)
        make_row(exam_id="O1", patient_id="PA", exam_date="2024-03-01"),
        # patient PB: an older exam due long ago, but a later exam exists (not overdue)
        make_row(exam_id="B1", patient_id="PB", exam_date="2020-01-01"),
        make_row(exam_id="B2", patient_id="PB", exam_date="2025-06-01"),
        make_row(exam_id="N1", patient_id="PC", femoral_neck_t="-0.5"),  # normal: no date
    ])
    registry_flow(paths=[str(data)], db=str(db))
    for view in VIEWS:
        assert rows(db, f"SELECT count(*) FROM {view}")[0][0] >= 0
    assert rows(db, "SELECT exam_id FROM v_latest_assessment ORDER BY exam_id") == [
        ("B2",), ("N1",), ("O1",)]

    def overdue(as_of: str) -> list[tuple]:
        return rows(db, f"SELECT patient_id, exam_id, days_overdue FROM"
                        f" followup_overdue(DATE '{as_of}') ORDER BY 1")

    assert overdue("2023-01-01") == [("PB", "B1", 365)]  # before B2 (and O1): B1 is latest
    assert overdue("2025-05-31") == [("PB", "B1", 1246)]
    assert overdue("2025-06-01") == []                           # B2 made that day: counts
    assert overdue("2026-03-01") == []                           # due that day: not yet overdue
    assert overdue("2026-03-02") == [("PA", "O1", 1)]
    assert overdue("2027-06-02") == [("PA", "O1", 458), ("PB", "B2", 1)]
    assert rows(db, "SELECT count(*) FROM v_treatment_candidates")[0][0] == 0
    scanner = rows(db, "SELECT scanner_serial, exams, mean_t_femoral_neck FROM v_scanner_summary")
    assert scanner == [("HZ-100", 4, -1.7)]
    assert rows(db, "SELECT rows_loaded FROM v_run_history") == [(4,)]


@pytest.mark.usefixtures("prefect_harness")
def test_report_shows_overdue_and_significant_losses(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    data = write_csv(tmp_path / "in.csv", [
        spine_exam("Y1", "2021-01-10", 1.000), spine_exam("Y2", "2022-01-10", 0.900)])
    registry_flow(paths=[str(data)], db=str(db))
    copy = reporting_copy_path(db)
    result = CliRunner().invoke(app, ["report", "--db", str(copy), "--as-of", "2030-01-01",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    report = {s["section"]: s["rows"] for s in json.loads(result.output)["sections"]}
    assert report["followup_overdue"] == [
        {"ruleset": "core-2025@3", "overdue": "over 12 months", "patients": 1}]
    assert report["latest_run_significant_losses"] == [
        {"code": "SIGNIFICANT_BMD_LOSS", "severity": "warning", "exams": 1}]
    assert report["significant_bmd_change"] == [
        {"site": "spine", "direction": "decrease", "exams": 1, "vs_previous": 1,
         "vs_baseline": 0}]
    table = CliRunner().invoke(app, ["report", "--db", str(copy), "--as-of", "2030-01-01"])
    assert "over 12 months" in table.output and "SIGNIFICANT_BMD_LOSS" in table.output
    assert "P-9" not in table.output


# Plain functions from here on (no Prefect): registries built with load_input directly.

def load_rows(con: duckdb.DuckDBPyConnection, folder: Path, name: str, exams: list[dict],
              ruleset: str = "core-2025") -> None:
    """Load one CSV of exams under one ruleset, as a night's run would, without the flow."""
    inputs, _ = discover([write_csv(folder / f"{name}.csv", exams)])
    chosen = resolve_ruleset(ruleset)
    load_input(writer_for(con), f"run-{name}", chosen.label, prepare_input(inputs[0]),
               decider_for(chosen), load_precision())


def older_exam_only_under_bhof(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """PX: an osteoporosis exam in 2020 assessed only under bhof-2022, then a 2024 osteopenia
    exam assessed only under core-2025 (the ruleset changed between the two nights). X2
    has no BMD, so no change row: `registry_at_002` holds bmd_changes as it was then."""
    load_rows(con, folder, "old", [make_row(exam_id="X1", patient_id="PX",
                                            exam_date="2020-01-01", femoral_neck_t="-2.7")],
              ruleset="bhof-2022")
    load_rows(con, folder, "new", [make_row(exam_id="X2", patient_id="PX",
                                            exam_date="2024-06-01",
                                            femoral_neck_bmd=None)])


def overdue_rows(con: duckdb.DuckDBPyConnection, as_of: str) -> list[tuple]:
    return con.execute("SELECT exam_id, ruleset, days_overdue FROM followup_overdue(?)"
                       " ORDER BY ALL", [as_of]).fetchall()


def test_latest_exam_comes_from_exams_not_from_each_ruleset(tmp_path: Path) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        older_exam_only_under_bhof(con, tmp_path)
        assert con.execute("SELECT treatment, next_dxa_due FROM assessments WHERE exam_id = 'X1'"
                           ).fetchall() == [("recommended", dt.date(2021, 1, 1))]
        assert con.execute("SELECT exam_id, ruleset FROM v_latest_assessment").fetchall() == [
            ("X2", "core-2025@3")]                        # bhof has no row: X2 not assessed
        # X2 reads osteopenia, but X1's osteoporosis persists (clinical rules section 7a):
        # recommended (TX-OSTEOPOROSIS-HISTORY), due a year after it
        assert con.execute("SELECT exam_id, treatment FROM v_treatment_candidates"
                           ).fetchall() == [("X2", "recommended")]
        assert overdue_rows(con, "2021-12-31") == [("X1", "bhof-2022@3", 364)]  # X1 latest then
        assert overdue_rows(con, "2024-06-01") == []
        assert overdue_rows(con, "2030-01-01") == [("X2", "core-2025@3", 1675)]
        report = collect_report(con, dt.date(2030, 1, 1))
    latest = [(s.key, row) for s in report.sections
              if s.key in ("categories", "treatment", "followup_overdue") for row in s.rows]
    assert ("categories", ("core-2025@3", "osteopenia", 1)) in latest
    assert not [row for _, row in latest if row[0].startswith("bhof")]


def registry_at_002(db: Path) -> duckdb.DuckDBPyConnection:
    """A registry created before migration 003 (001 and 002 applied and recorded)."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                " name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    folder = resources.files("pipelines.registry.migrations")
    for version, name in ((1, "001_core_tables.sql"), (2, "002_serial_and_views.sql")):
        con.execute(folder.joinpath(name).read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                    [version, name])
    return con


def copy_rows(con: duckdb.DuckDBPyConnection, source: Path, tables: tuple[str, ...]) -> None:
    """Copy a current registry's rows into an older one (the columns the older one has):
    today's loader writes today's tables."""
    con.execute(f"ATTACH '{source}' AS source (READ_ONLY)")
    for table in tables:
        columns = ", ".join(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall())
        con.execute(f"INSERT INTO {table} SELECT {columns} FROM source.{table}")
    con.execute("DETACH source")


def test_migration_003_upgrades_an_existing_registry(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with registry(tmp_path / "current.duckdb") as current:
        older_exam_only_under_bhof(current, tmp_path)
    con = registry_at_002(db)
    try:
        copy_rows(con, tmp_path / "current.duckdb", ("exams", "assessments", "flags"))
        columns = {v: con.execute(f"DESCRIBE {v}").fetchall() for v in VIEWS}
        assert con.execute("SELECT exam_id, ruleset FROM v_treatment_candidates"
                           " ORDER BY exam_id").fetchall() == [
            ("X1", "bhof-2022@3"),                        # the audit's false candidate
            ("X2", "core-2025@3")]                        # X1's osteoporosis persists
        assert 3 in migrate(con)
        # every column kept, typed as before and in the same order; later migrations only
        # add columns (the assessments' columns of rules version 3 reach the views through
        # `a.*`, before the views' own; migration 021 adds `denosumab` at the end)
        after = {v: con.execute(f"DESCRIBE {v}").fetchall() for v in VIEWS}
        assert {v: [c for c in after[v] if c in columns[v]] for v in VIEWS} == columns
        assert after["v_followup_overdue"][-1][0] == "denosumab"
        assert con.execute("SELECT exam_id FROM v_treatment_candidates").fetchall() == [("X2",)]
        assert overdue_rows(con, "2030-01-01") == [("X2", "core-2025@3", 1675)]
    finally:
        con.close()
    with registry(db) as again:                           # reopening applies nothing twice
        assert migrate(again) == []


def test_report_counts_exams_with_a_significant_change_not_comparison_rows(
    tmp_path: Path
) -> None:
    """Y3 falls against its prior exam and its baseline (LSC 5.3%): two rows, one exam."""
    with registry(tmp_path / "r.duckdb") as con:
        load_rows(con, tmp_path, "slow", [
            spine_exam("Y1", "2021-01-10", 1.000), spine_exam("Y2", "2022-01-10", 0.940),
            spine_exam("Y3", "2023-01-10", 0.880)])
        held = con.execute("SELECT exam_id, comparison FROM bmd_changes WHERE significant"
                           " ORDER BY ALL").fetchall()
        section = collect_report(con, dt.date(2030, 1, 1)).section("significant_bmd_change")
    assert held == [("Y2", "previous"), ("Y3", "baseline"), ("Y3", "previous")]
    assert section.rows == (("spine", "decrease", 2, 2, 1),)


def test_report_overdue_counts_match_the_macro(tmp_path: Path) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        older_exam_only_under_bhof(con, tmp_path)
        load_rows(con, tmp_path, "more", [
            make_row(exam_id="B1", patient_id="PB", exam_date="2020-01-01"),
            make_row(exam_id="B2", patient_id="PB", exam_date="2025-06-01"),
        ])
        for as_of in ("2021-06-01", "2023-01-01", "2025-06-01", "2027-06-02", "2031-01-01"):
            day = dt.date.fromisoformat(as_of)
            overdue = collect_report(con, day).section("followup_overdue")
            in_report = sum(overdue.column("patients"))
            assert in_report == len(overdue_rows(con, as_of)), as_of


def test_report_on_a_locked_registry_is_a_clean_error(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "r.duckdb"
    with registry(db):
        pass
    monkeypatch.setattr(report_module, "LOCK_TIMEOUT_S", 0.5)
    with write_lock_held(db):
        with pytest.raises(ReportError, match="locked by another process") as caught:
            build_report(db, None)
        result = CliRunner().invoke(app, ["report", "--db", str(db)])
        monkeypatch.setattr(report_module, "LOCK_TIMEOUT_S", 60.0)
        started = time.monotonic()
        short = CliRunner().invoke(app, ["report", "--db", str(db), "--lock-timeout", "0.5"])
        waited = time.monotonic() - started
    assert short.exit_code == 1 and "waited 0.5 s" in short.output  # the option, not 60 s
    assert waited < 10
    assert "reporting copy" in str(caught.value) and str(db) in str(caught.value)
    assert result.exit_code == 1
    assert "dxa: error" in result.output and "locked by another process" in result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
