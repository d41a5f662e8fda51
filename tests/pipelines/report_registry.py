"""A small registry that fills every section and chart of the reports (no Prefect).

Three runs loaded with the plain load functions: patients of both sexes across the age
bands and WHO categories, follow-up overdue in each band, serial exams with a significant
loss and a scanner change, quarantined rows in two runs, and a second ruleset (so the
ruleset comparison shows). Patient and exam ids are easy to spot (`SECRET`), so a leak
into any rendered report shows. Optionally two more scanners with 18 months of exams, one
stable and one whose BMD drifts 1 % a month, for the drift chart (`v_scanner_monthly`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from exam_rows import make_row, write_csv
from test_scanner_monthly import MONTHS, scanner_exams

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import assess_loaded_input, load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run, finish_run
from pipelines.registry.outcome import RunSummary
from pipelines.registry.store import insert_frame, registry
from sources.detect import discover
from transforms.precision import load_precision

AS_OF = "2026-06-01"
#: The drifting scanner's months flagged by v_scanner_monthly (from month 8 on: 1-3s).
DRIFT_MONTHS = MONTHS - 8

#: (sex, birth year, femoral neck T, exam date): categories across sexes and age bands
PATIENTS = (
    ("F", 1950, -2.8, "2023-02-10"), ("F", 1955, -1.8, "2023-03-10"),
    ("F", 1962, -0.4, "2023-04-10"), ("F", 1940, -3.1, "2023-05-10"),
    ("F", 1975, -1.2, "2023-06-10"), ("M", 1948, -2.6, "2023-07-10"),
    ("M", 1958, -1.5, "2024-08-10"), ("M", 1938, -0.2, "2024-09-10"),
    ("F", 1968, -2.0, "2025-01-10"), ("M", 1945, -1.1, "2022-01-10"),
)


def patient(index: int) -> str:
    return f"SECRET-P{index:02d}"


def first_night() -> list[dict[str, str]]:
    rows = []
    for i, (sex, born, t_score, date) in enumerate(PATIENTS):
        extra = {"menopausal_status": "post"} if sex == "F" else {"menopausal_status": ""}
        rows.append(make_row(
            exam_id=f"SECRET-E{i:02d}", patient_id=patient(i), exam_date=date, sex=sex,
            birth_date=f"{born}-06-15", femoral_neck_t=t_score, femoral_neck_bmd=0.6,
            spine_bmd=1.000, spine_t=t_score + 0.3, spine_z=0.1,
            scanner_serial="S-A" if i % 2 else "S-B", **extra))
    return [*rows, make_row(exam_id="SECRET-BAD0", patient_id="SECRET-PZ", sex="")]


def second_night() -> list[dict[str, str]]:
    """Serial exams (a loss on the same scanner, a scanner change) and two bad rows."""
    return [
        make_row(exam_id="SECRET-E50", patient_id=patient(1), exam_date="2025-03-10",
                 birth_date="1955-06-15", femoral_neck_t=-1.9, femoral_neck_bmd=0.59,
                 spine_bmd=0.900, spine_t=-2.0, spine_z=-0.5, scanner_serial="S-A"),
        make_row(exam_id="SECRET-E51", patient_id=patient(3), exam_date="2025-05-10",
                 birth_date="1940-06-15", femoral_neck_t=-3.2, femoral_neck_bmd=0.5,
                 spine_bmd=0.950, spine_t=-2.9, spine_z=-0.8, scanner_serial="S-C"),
        make_row(exam_id="SECRET-BAD1", patient_id="SECRET-PX", sex="Q"),
        make_row(exam_id="SECRET-BAD2", patient_id="SECRET-PY", exam_date="not a date"),
    ]


#: Quarters of the measures night: (exam month, women scanned, of whom on glucocorticoids):
#: QM-LOW-RISK-SCREEN's first exams of women aged 57, 12 and 11 (charted), 10 (suppressed).
MEASURE_QUARTERS = (("2025-08", 12, 3), ("2025-11", 11, 2), ("2026-02", 10, 1))


def measures_night() -> list[dict[str, str]]:
    """First exams of women aged 57 in three quarters before AS_OF: QM-LOW-RISK-SCREEN
    is drawn in two of them and suppressed (n < 11) in the third."""
    rows = []
    for month, women, steroid in MEASURE_QUARTERS:
        for i in range(women):
            dose = {"glucocorticoid_mg_day": "7.5", "glucocorticoid_months": "6"} \
                if i < steroid else {}
            rows.append(make_row(exam_id=f"SECRET-M{month}-{i:02d}",
                                 patient_id=f"SECRET-PM{month}-{i:02d}",
                                 exam_date=f"{month}-10", birth_date="1968-01-01",
                                 scanner_serial="S-A", **dose))
    return rows


def _night(con: duckdb.DuckDBPyConnection, path: Path, run_id: str, ruleset_id: str) -> None:
    ruleset = resolve_ruleset(ruleset_id)
    summary = RunSummary(run_id=run_id, ruleset=ruleset.label, db_path="", status="completed")
    begin_run(con, run_id, ruleset.label)
    inputs, _ = discover([path])
    prepared = prepare_input(inputs[0])
    loaded = con.execute("SELECT count(*) FROM source_files WHERE file_sha256 = ?",
                         [prepared.sha256]).fetchall()[0][0]
    if loaded:
        outcome = assess_loaded_input(writer_for(con), run_id, ruleset.label, prepared,
                                      decider_for(ruleset))
    else:
        outcome = load_input(writer_for(con), run_id, ruleset.label, prepared, decider_for(ruleset),
                             load_precision())
    summary.files.append(outcome)
    finish_run(con, summary)


def build_registry(folder: Path, *, two_rulesets: bool = True,
                   drifting_scanner: bool = False,
                   scanners: tuple[str, str] = ("QC-STABLE", "QC-DRIFT"),
                   measure_cases: bool = False) -> Path:
    """The registry file, closed, ready for `dxa report`; `scanners`: the serials of the
    stable and the drifting scanner; `measure_cases`: a fourth night of first exams that
    fill QM-LOW-RISK-SCREEN (`measures_night`)."""
    db = folder / "report.duckdb"
    night1 = write_csv(folder / "night1.csv", first_night())
    night2 = write_csv(folder / "night2.csv", second_night())
    with registry(db) as con:
        _night(con, night1, "run-1", "core-2025")
        if two_rulesets:  # judges the first night's exams again, loads nothing
            _night(con, night1, "run-2", "bhof-2022")
        _night(con, night2, "run-3", "core-2025")  # the latest run: core-2025 is charted
        if measure_cases:
            night4 = write_csv(folder / "night4.csv", measures_night())
            _night(con, night4, "run-4", "core-2025")
        if drifting_scanner:  # exams only (no assessments): they move no category count
            stable = [1.0] * MONTHS
            drifting = [1.0 + 0.01 * max(0, month - 5) for month in range(MONTHS)]
            insert_frame(con, "exams", scanner_exams(scanners[0], stable))
            insert_frame(con, "exams", scanner_exams(scanners[1], drifting))
    return db
