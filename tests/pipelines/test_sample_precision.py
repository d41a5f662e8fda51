"""`dxa precision` on the committed sample recovers the generator's true precision: the
sample's precision study (`samplegen/precision_study.py`: 30 patients x 2 same-day scans
on one scanner, 15 x 3 on another) within 0.2 percentage points of the true %CV, and
within 2.5 sampling errors (SE of an RMS %CV over df degrees of freedom ~ CV / sqrt(2 df))."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from sample_registry import SAMPLE, shared_sample_copy

from pipelines.readers.precision_study import precision_study


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:  # noqa: ANN001
    return shared_sample_copy(tmp_path_factory)


def test_sample_precision_recovers_the_truth(copy: Path) -> None:
    truth = json.loads((SAMPLE / "manifest.json").read_text())["precision_study"]["true_cv_pct"]
    rows = precision_study(copy).rows
    found = {(r["scanner_serial"], r["site"]): r for r in rows.iter_rows(named=True)}
    checked = 0
    for serial, sites in truth.items():
        for site, true_cv in sites.items():
            row = found[(serial, site)]
            assert (row["df"], row["complete"]) == (30, True)
            error = abs(row["rms_cv_pct"] - true_cv)
            assert error <= 0.2, (serial, site, row["rms_cv_pct"], true_cv)
            assert error <= 2.5 * true_cv / math.sqrt(2 * row["df"])
            checked += 1
    assert checked == 6
    assert rows.filter(pl.col("scanner_serial").is_in(list(truth))).height == 6
