"""The engine's contract: output shape and dtypes, ignored extra columns, empty input,
identifier-free flag details, and vectorized code only."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
from rules_helpers import exam, frame, worked

import transforms.rules
from transforms.rules.decide import ASSESSMENT_COLUMNS, Decisions, decide

EXPECTED_SCHEMA = {
    "exam_id": pl.String,
    "ruleset": pl.String,
    "basis": pl.String,
    "diagnostic_site": pl.String,
    "diagnostic_t_score": pl.Float64,
    "diagnostic_z_score": pl.Float64,
    "who_category": pl.String,
    "z_category": pl.String,
    "high_risk_features": pl.List(pl.String),
    "risk_factor_count": pl.Int32,
    "treatment": pl.String,
    "reasons": pl.List(pl.String),
    "first_line_therapy": pl.String,
    "secondary_cause_workup": pl.Boolean,
    "vfa_recommended": pl.Boolean,
    "next_dxa_due": pl.Date,
    "lifestyle": pl.List(pl.String),
    "frax_major_adjusted": pl.Float64,
    "frax_hip_adjusted": pl.Float64,
    "caroc_risk": pl.String,
    "caroc_reasons": pl.List(pl.String),
    "history_used": pl.List(pl.String),
}
FLAG_SCHEMA = {c: pl.String for c in ("exam_id", "code", "severity", "detail", "ruleset")}


def test_output_schema(core) -> None:
    decisions = decide(frame([worked(), exam(exam_id="E2", age_years=10.0)]), core)
    assert isinstance(decisions, Decisions)
    assert tuple(decisions.assessments.columns) == ASSESSMENT_COLUMNS
    assert dict(decisions.assessments.schema) == EXPECTED_SCHEMA
    assert dict(decisions.flags.schema) == FLAG_SCHEMA


def test_empty_input(core) -> None:
    decisions = decide(frame([]), core)
    assert decisions.assessments.height == 0
    assert dict(decisions.assessments.schema) == EXPECTED_SCHEMA
    assert decisions.flags.height == 0
    assert dict(decisions.flags.schema) == FLAG_SCHEMA


def test_extra_columns_ignored(core) -> None:
    plain = frame([worked()])
    extra = plain.with_columns(
        pl.lit("x").alias("_row_number"),
        pl.lit(1).alias("treatment"),
        pl.lit(None).alias("reasons"),
    ).select(pl.col("treatment"), pl.all().exclude("treatment"))
    assert decide(extra, core).assessments.equals(decide(plain, core).assessments)


def test_missing_optional_columns_are_not_recorded(core) -> None:
    full = frame([worked()])
    lean = full.drop("birth_date", "kyphosis", "radius_33_t", "radius_33_z", "frax_hip_pct")
    expected = decide(full.with_columns(pl.lit(None, dtype=pl.Float64).alias("frax_hip_pct")),
                      core)
    assert decide(lean, core).assessments.equals(expected.assessments)


def test_flag_details_carry_no_identifiers(core) -> None:
    rows = [
        exam(exam_id="SECRET-EXAM", patient_id="SECRET-PATIENT", age_years=12.0,
             spine_t=-1.0, spine_vertebrae=1),
        exam(exam_id="SECRET-2", patient_id="SECRET-PATIENT", menopausal_status=None,
             age_years=53.0, spine_z=-1.0, exam_date=dt.date(2026, 3, 14)),
    ]
    flags = decide(frame(rows), core).flags
    assert set(flags["code"]) == {"PEDIATRIC_NOT_ASSESSED", "SPINE_TOO_FEW_VERTEBRAE",
                                  "RISK_FACTORS_INCOMPLETE", "MENOPAUSE_ASSUMED",
                                  "NO_DIAGNOSTIC_SITE"}
    assert not flags["detail"].str.contains("SECRET|53|2025").any()
    assert flags.filter(code="NO_DIAGNOSTIC_SITE")["severity"].to_list() == ["warning"]


def test_no_row_wise_python_in_engine() -> None:
    """CI greps for these too; the engine must stay vectorized."""
    package = Path(transforms.rules.__file__).parent
    forbidden = re.compile(r"map_elements|\.apply\(|iter_rows|map_rows|map_batches")
    for path in package.glob("*.py"):
        assert not forbidden.search(path.read_text()), path.name
