"""Shared fixtures: canonical rows and CSV files built from them, a Prefect harness."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from transforms.columns import CANONICAL_COLUMNS  # noqa: E402

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


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test API for the whole session (entering it costs ~15 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
