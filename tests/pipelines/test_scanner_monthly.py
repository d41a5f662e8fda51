"""`v_scanner_monthly`: a scanner whose BMD drifts 1 % a month is flagged in the right month.

The generated exams have, each month, the same spread of BMD around that month's true
mean (a fixed standardised sample, reshuffled), so every month's mean is exactly the true
mean and the expected month follows from the chart's rule alone: baseline center 1.000,
sigma about 0.05, 40 exams a month, limits center +/- 3 x 0.05 / sqrt(40) = +/- 0.0235.
A 1 %-a-month drift from month 7 on reaches +3 % (outside the limits) in month 9.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
import zlib
from pathlib import Path

import polars as pl
import pytest

from pipelines.registry.store import insert_frame, query, registry

PER_MONTH = 40
SIGMA = 0.05
MONTHS = 18
FIRST = dt.date(2024, 1, 1)


def _month(index: int) -> dt.date:
    return dt.date(FIRST.year + (FIRST.month - 1 + index) // 12,
                   (FIRST.month - 1 + index) % 12 + 1, 1)


def _spread() -> list[float]:
    """PER_MONTH values with mean exactly 0 and sample standard deviation exactly 1."""
    draw = [random.Random(7 + k).gauss(0.0, 1.0) for k in range(PER_MONTH)]
    mean, sd = statistics.fmean(draw), statistics.stdev(draw)
    return [(x - mean) / sd for x in draw]


def scanner_exams(serial: str, monthly_mean: list[float]) -> pl.DataFrame:
    """Spine exams of one scanner: PER_MONTH a month, each month's mean as given."""
    spread, rng = _spread(), random.Random(zlib.crc32(serial.encode()))
    frames = []
    for index, mean in enumerate(monthly_mean):
        month = _month(index)
        values = [mean + SIGMA * x for x in rng.sample(spread, len(spread))]
        frames.append(pl.DataFrame({
            "exam_id": [f"{serial}-{index}-{k}" for k in range(PER_MONTH)],
            "patient_id": [f"P-{serial}-{index}-{k}" for k in range(PER_MONTH)],
            "exam_date": [month + dt.timedelta(days=k % 28) for k in range(PER_MONTH)],
            "spine_bmd": values,
            "spine_t": [(v - 1.0) / 0.11 for v in values],
        }))
    return pl.concat(frames).with_columns(
        age_years=pl.lit(65.0), sex=pl.lit("F"), scanner_serial=pl.lit(serial),
        source_format=pl.lit("canonical_csv"), file_sha256=pl.lit("f" * 64),
        source_row_number=pl.int_range(1, pl.len() + 1), run_id=pl.lit("test"),
    )


@pytest.fixture(scope="module")
def monthly(tmp_path_factory) -> pl.DataFrame:  # noqa: ANN001
    stable = [1.0] * MONTHS
    drifting = [1.0 * (1 + 0.01 * max(0, index - 5)) for index in range(MONTHS)]
    step = [1.0] * 8 + [1.0 + 2.5 * SIGMA / math.sqrt(PER_MONTH)] * (MONTHS - 8)
    db = tmp_path_factory.mktemp("drift") / "r.duckdb"
    with registry(db) as con:
        for serial, means in (("STABLE", stable), ("DRIFT", drifting), ("STEP", step)):
            insert_frame(con, "exams", scanner_exams(serial, means))
        return query(con, "SELECT * FROM v_scanner_monthly ORDER BY scanner_serial, month")


def test_columns_the_report_charts(monthly: pl.DataFrame) -> None:
    assert monthly.columns == [
        "scanner_serial", "site", "month", "exams", "mean_bmd_g_cm2", "mean_t_score",
        "center_bmd_g_cm2", "lower_limit_bmd_g_cm2", "upper_limit_bmd_g_cm2", "drift",
        "drift_rule"]
    assert monthly.schema["month"] == pl.Date and monthly.schema["drift"] == pl.Boolean
    assert set(monthly["site"]) == {"spine"}
    assert monthly.filter(pl.col("scanner_serial") == "STABLE")["month"].to_list() == [
        _month(i) for i in range(MONTHS)]
    assert (monthly["exams"] == PER_MONTH).all()


def test_limits_come_from_the_scanners_first_six_months(monthly: pl.DataFrame) -> None:
    # sigma: the sample standard deviation of the 6 x 40 baseline exams together
    baseline_sd = SIGMA * math.sqrt(6 * (PER_MONTH - 1) / (6 * PER_MONTH - 1))
    half_width = 3 * baseline_sd / math.sqrt(PER_MONTH)
    for serial in ("STABLE", "DRIFT", "STEP"):
        rows = monthly.filter(pl.col("scanner_serial") == serial)
        assert rows["center_bmd_g_cm2"].to_list() == pytest.approx([1.0] * MONTHS, abs=1e-4)
        assert rows["lower_limit_bmd_g_cm2"].to_list() == pytest.approx(
            [1.0 - half_width] * MONTHS, abs=1e-4)
        assert rows["upper_limit_bmd_g_cm2"].to_list() == pytest.approx(
            [1.0 + half_width] * MONTHS, abs=1e-4)


def test_a_stable_scanner_is_never_flagged(monthly: pl.DataFrame) -> None:
    rows = monthly.filter(pl.col("scanner_serial") == "STABLE")
    assert rows["drift"].to_list() == [False] * MONTHS
    assert rows["drift_rule"].null_count() == MONTHS


def test_a_one_percent_a_month_drift_is_flagged_from_the_month_it_leaves_the_limits(
    monthly: pl.DataFrame,
) -> None:
    rows = monthly.filter(pl.col("scanner_serial") == "DRIFT")
    # months 0-5 baseline; month 6 +1 % (z 1.26), month 7 +2 % (z 2.53, no 2-2s yet since
    # month 6 was under 2), month 8 +3 % (z 3.79): 1-3s.
    assert rows["mean_bmd_g_cm2"][8] == pytest.approx(1.03, abs=1e-4)
    flagged = rows.filter(pl.col("drift"))
    assert flagged["month"][0] == _month(8)
    assert flagged["drift_rule"][0] == "1-3s"
    assert rows["drift"][:8].to_list() == [False] * 8
    assert rows["drift"][8:].all()


def test_two_months_in_a_row_beyond_two_sigma_is_the_2_2s_rule(monthly: pl.DataFrame) -> None:
    """A step of 2.5 standard errors stays inside the 3-sigma limits: 1-3s never fires, and
    2-2s flags the second month of the step and each one after it."""
    rows = monthly.filter(pl.col("scanner_serial") == "STEP")
    assert rows["drift"][:9].to_list() == [False] * 9
    assert rows["drift_rule"][9:].to_list() == ["2-2s"] * (MONTHS - 9)


def test_a_small_baseline_is_not_judged(tmp_path: Path) -> None:
    exams = scanner_exams("FEW", [1.0] * 8).filter(pl.col("exam_id").str.ends_with("-0"))
    with registry(tmp_path / "r.duckdb") as con:
        insert_frame(con, "exams", exams)
        rows = query(con, "SELECT * FROM v_scanner_monthly")
    assert rows.height == 8 and (rows["exams"] == 1).all()
    assert rows["drift"].null_count() == 8
    assert rows["lower_limit_bmd_g_cm2"].null_count() == 8


def test_measurements_carry_the_exams_scanner_and_date(tmp_path: Path) -> None:
    exams = scanner_exams("S1", [1.0])
    with registry(tmp_path / "r.duckdb") as con:
        insert_frame(con, "exams", exams)
        joined = query(con, "SELECT m.scanner_serial = e.scanner_serial AS same_scanner,"
                            " m.exam_date = e.exam_date AS same_date"
                            " FROM measurements m JOIN exams e USING (exam_id)")
    assert joined.height == PER_MONTH
    assert joined["same_scanner"].all() and joined["same_date"].all()
