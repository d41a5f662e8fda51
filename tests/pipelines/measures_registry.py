"""Test helpers: hand-built registries for the quality measures (no Prefect, no rules).

Exams and their assessments are inserted as written, so that each test sets exactly the
inputs (dates, ages, risk factors, treatment, next DXA due) a measure reads and counts its
numerator and denominator by hand. Every exam has a central site (femoral neck T -1.0)
unless it says otherwise; decisions are recorded under one ruleset, made primary.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from pipelines.registry.store import insert_frame, registry

RULESET = "test-measures@1"
#: Columns of `exams` an exam sets, with their default.
EXAM_DEFAULTS: dict[str, object] = {
    "age_years": 55.0, "sex": "F", "scanner_serial": "S-1", "femoral_neck_t": -1.0,
    "femoral_neck_z": None, "spine_t": None, "radius_33_t": None, "bmi": 25.0,
    "prior_fragility_fracture": False, "vertebral_fracture": False,
    "prior_fracture_sites": None, "glucocorticoid_mg_day": 0.0,
    "glucocorticoid_months": 0.0, "parent_hip_fracture": False, "alcohol_units_day": 0.0,
    "on_treatment": False, "last_fracture_date": None, "treatment_start_date": None,
}
SCHEMA = {"exam_date": pl.Date, "age_years": pl.Float64, "femoral_neck_t": pl.Float64,
          "femoral_neck_z": pl.Float64, "spine_t": pl.Float64, "radius_33_t": pl.Float64,
          "bmi": pl.Float64, "prior_fracture_sites": pl.List(pl.String),
          "glucocorticoid_mg_day": pl.Float64, "glucocorticoid_months": pl.Float64,
          "alcohol_units_day": pl.Float64, "next_dxa_due": pl.Date,
          "scanner_serial": pl.String, "last_fracture_date": pl.Date,
          "treatment_start_date": pl.Date}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def exam(exam_id: str, patient_id: str, exam_date: str, *, treatment: str = "not_indicated",
         next_dxa_due: str | None = None, **columns: object) -> dict[str, object]:
    """One exam with its assessment: the defaults, `columns` over them."""
    unknown = set(columns) - set(EXAM_DEFAULTS)
    assert not unknown, unknown
    dates = {k: day(v) for k, v in columns.items()
             if k in ("last_fracture_date", "treatment_start_date") and isinstance(v, str)}
    return {**EXAM_DEFAULTS, **columns, **dates, "exam_id": exam_id, "patient_id": patient_id,
            "exam_date": day(exam_date), "treatment": treatment,
            "next_dxa_due": day(next_dxa_due) if next_dxa_due else None}


def fill(con: duckdb.DuckDBPyConnection, exams: list[dict[str, object]]) -> None:
    """Insert the exams and their assessments into a migrated registry connection."""
    frame = pl.DataFrame(exams, schema_overrides=SCHEMA, infer_schema_length=None)
    base = {"source_format": "canonical_csv", "file_sha256": "test", "source_row_number": 1,
            "run_id": "test-run"}
    insert_frame(con, "exams", frame.drop("treatment", "next_dxa_due").with_columns(
        **{k: pl.lit(v) for k, v in base.items()}))
    insert_frame(con, "assessments", frame.select("exam_id", "treatment", "next_dxa_due")
                 .with_columns(ruleset=pl.lit(RULESET), basis=pl.lit("who_t_score"),
                               run_id=pl.lit("test-run")))
    con.execute("INSERT OR REPLACE INTO registry_settings VALUES "
                "('primary_ruleset', ?, current_timestamp)", [RULESET])


def build(folder: Path, exams: list[dict[str, object]], name: str = "measures.duckdb") -> Path:
    """A registry file holding `exams`, closed, ready for readers."""
    db = folder / name
    with registry(db) as con:
        fill(con, exams)
    return db


def cases(con: duckdb.DuckDBPyConnection, measure_id: str, first: str, last: str,
          report: str) -> tuple[int, int]:
    """(denominator, numerator) of a measure, overall, from the registry's macro."""
    found = con.execute(
        "SELECT denominator, numerator FROM quality_measures_as_of(CAST(? AS DATE), "
        "CAST(? AS DATE), CAST(? AS DATE), registry_primary_ruleset(), 'standard') "
        "WHERE measure_id = ? AND grp_by = 'overall'", [first, last, report, measure_id]
    ).fetchall()
    return found[0] if found else (0, 0)
