"""Shared helpers for the rules tests: typed exam frames built from a few fields.

(A uniquely named module rather than conftest imports: tests/ has its own conftest.py.)
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import polars as pl

from schemas.columns import CANONICAL_COLUMNS, polars_dtype
from transforms.rules.decide import decide
from transforms.rules.ruleset import Ruleset

DATA = Path(__file__).parent / "data"
TEST_RULESET = DATA / "test-lenient.toml"
SCHEMA = {name: polars_dtype(kind) for name, kind in CANONICAL_COLUMNS.items()}
#: Prior fracture sites: distinct codes, null when not recorded (as the validated frame).
SCHEMA["prior_fracture_sites"] = pl.List(pl.String)

#: The article's case (clinical-rules.md section 8).
WORKED = {
    "sex": "F",
    "age_years": 62.0,
    "menopausal_status": "post",
    "femoral_neck_t": -2.1,
    "femoral_neck_z": -1.0,
    "prior_fragility_fracture": False,
    "glucocorticoid_mg_day": 0.0,
    "current_smoker": False,
    "bmi": 24.0,
    "frax_major_pct": 9.0,
    "frax_hip_pct": 1.2,
}


#: Patient ids for `exam`: each exam is its own patient unless the test says otherwise,
#: so that exams decided in one frame are not one patient's history (section 7a).
_PATIENTS = itertools.count(1)


def exam(**fields: Any) -> dict[str, Any]:
    """One exam dict with every canonical column (nulls unless given); a patient of its
    own unless `patient_id` is given."""
    row: dict[str, Any] = dict.fromkeys(SCHEMA)
    row.update(
        exam_id="E1",
        patient_id=f"P{next(_PATIENTS)}",
        exam_date=dt.date(2025, 3, 14),
        sex="F",
        age_years=62.0,
        menopausal_status="post",
    )
    row.update(fields)
    return row


def worked(**changes: Any) -> dict[str, Any]:
    """The worked example's exam with some fields changed."""
    return exam(**{**WORKED, **changes})


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A typed exam frame as `decide` receives it."""
    return pl.DataFrame(rows, schema=SCHEMA)


def assess(ruleset: Ruleset, **fields: Any) -> dict[str, Any]:
    """Decide one exam given as fields; returns its assessment row as a dict."""
    return decide(frame([exam(**fields)]), ruleset).assessments.row(0, named=True)


def assess_worked(ruleset: Ruleset, **changes: Any) -> dict[str, Any]:
    """Decide the worked example with some fields changed."""
    return decide(frame([worked(**changes)]), ruleset).assessments.row(0, named=True)


def flag_codes(ruleset: Ruleset, **fields: Any) -> list[str]:
    """Flag codes raised for one exam."""
    return decide(frame([exam(**fields)]), ruleset).flags["code"].to_list()
