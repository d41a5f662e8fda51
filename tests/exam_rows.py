"""Test helpers shared by every test folder: canonical rows and CSV files built from them.

A module of its own (not conftest) because several folders have a conftest.py and
`from exam_rows import ...` would pick whichever was imported first.
"""

from __future__ import annotations

import csv
from pathlib import Path

from schemas.columns import CANONICAL_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "sample_data"

#: A valid exam: the article's worked example (woman, 62, postmenopausal, neck T -2.1).
BASE_ROW: dict[str, str] = {
    "exam_id": "EX-1",
    "patient_id": "P-1",
    "exam_date": "2024-03-01",
    "birth_date": "1961-06-15",
    "age_years": "",
    "sex": "F",
    "menopausal_status": "post",
    "height_cm": "165",
    "weight_kg": "65.3",
    "bmi": "24",
    "scanner_manufacturer": "Hologic",
    "scanner_model": "Horizon A",
    "scanner_serial": "HZ-100",
    "femoral_neck_bmd": "0.610",
    "femoral_neck_t": "-2.1",
    "femoral_neck_z": "-1.0",
    "hip_side": "left",
    "prior_fragility_fracture": "no",
    "vertebral_fracture": "no",
    "glucocorticoid_mg_day": "0",
    "glucocorticoid_months": "0",
    "parent_hip_fracture": "no",
    "height_loss_cm": "0",
    "current_smoker": "no",
    "alcohol_units_day": "0",
    "kyphosis": "no",
    "back_pain": "no",
    "on_treatment": "no",
    "frax_major_pct": "9",
    "frax_hip_pct": "1.2",
}


def make_row(**overrides: object) -> dict[str, str]:
    row = dict(BASE_ROW)
    row.update({k: "" if v is None else str(v) for k, v in overrides.items()})
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(CANONICAL_COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path
