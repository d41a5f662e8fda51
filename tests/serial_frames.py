"""Test helpers of the serial exam comparison tests (`tests/transforms/test_serial_*.py`):
measurement rows as `compare_serial` reads them, written as short tuples.

A module of its own (not conftest), like `exam_rows`: several folders have a conftest.py.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.serial import INPUT_SCHEMA

Row = tuple  # (exam_id, patient_id, date, serial, on_treatment, site, bmd[, region])


def frame(*rows: Row) -> pl.DataFrame:
    """Measurement rows: (exam_id, patient_id, date, serial, on_treatment, site, bmd), and
    optionally the region: the hip side (hip sites, default left) or the vertebra count
    (spine, default blank = 4)."""
    out = []
    for exam, patient, day, serial, treated, site, bmd, *region in rows:
        hip = site in ("total_hip", "femoral_neck")
        value = region[0] if region else ("left" if hip else None)
        out.append((exam, patient, dt.date.fromisoformat(day), serial, treated, site, bmd,
                    value if hip else None, value if site == "spine" else None))
    return pl.DataFrame(out, schema=INPUT_SCHEMA, orient="row")


def sites(exam: str, patient: str, day: str, serial: str | None, treated: bool | None,
          **bmd: float | None) -> list[Row]:
    """One exam's rows for `frame`, one per site it measured, in the order given:
    `sites("E1", "P1", "2022-01-01", "S1", False, spine=1.0, total_hip=0.9)` (hips left)."""
    return [(exam, patient, day, serial, treated, site, value) for site, value in bmd.items()]


#: No measurements: a batch or history with nothing in it.
EMPTY = frame()
