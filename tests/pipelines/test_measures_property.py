"""QM-LOW-RISK-SCREEN and QM-REPEAT-TOO-SOON against a brute-force count in Python over
small generated registries (patients with one to four exams around the period)."""

from __future__ import annotations

import datetime as dt

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measures_registry import cases, exam, fill

from pipelines.registry.store import migrate

FIRST, LAST, REPORT = dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 6, 30)
START = dt.date(2022, 6, 1)

exam_fields = st.fixed_dictionaries({
    "offset": st.integers(0, 1400), "age": st.sampled_from([49.5, 50.0, 64.9, 65.0, 70.0]),
    "sex": st.sampled_from(["F", "M"]), "bmi": st.sampled_from([19.0, 20.0, 25.0]),
    "fracture": st.booleans(), "treated": st.booleans(),
    "t": st.sampled_from([-2.0, -1.5, -1.4, 0.0, None]),
})
registries = st.lists(st.lists(exam_fields, min_size=1, max_size=4), min_size=1, max_size=8)


def _rows(patients: list[list[dict]]) -> list[dict]:
    return [dict(e, patient=f"P{p}", exam_id=f"P{p}-E{i}",
                 date=START + dt.timedelta(days=e["offset"]))
            for p, exams in enumerate(patients) for i, e in enumerate(exams)]


def _low_risk(rows: list[dict]) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = sorted((r for r in rows if r["patient"] == patient),
                     key=lambda r: (r["date"], r["exam_id"]))
        first = own[0]
        if not (FIRST <= first["date"] <= LAST and first["sex"] == "F"
                and 50 <= int(first["age"]) <= 64):
            continue
        den += 1
        fractured = any(r["fracture"] for r in own if r["date"] <= first["date"])
        num += not (fractured or first["treated"] or first["bmi"] <= 20)
    return den, num


def _repeat(rows: list[dict]) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = [r for r in rows if r["patient"] == patient]
        for day in sorted({r["date"] for r in own if FIRST <= r["date"] <= LAST}):
            visit = max((r for r in own if r["date"] == day), key=lambda r: r["exam_id"])
            earlier = [r for r in own if r["date"] < day and r["t"] is not None]
            if not earlier:
                continue
            previous_day = max(r["date"] for r in earlier)
            previous = [r for r in earlier if r["date"] == previous_day]
            fractured = any(r["fracture"] for r in own if r["date"] <= previous_day)
            if (visit["treated"] or any(r["treated"] for r in previous) or fractured
                    or min(r["t"] for r in previous) <= -1.5):
                continue
            den += 1
            num += (day - previous_day).days < 730
    return den, num


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries)
def test_macros_count_as_brute_force(patients: list[list[dict]]) -> None:
    rows = _rows(patients)
    con = duckdb.connect()
    try:
        migrate(con)
        fill(con, [exam(r["exam_id"], r["patient"], r["date"].isoformat(),
                        age_years=r["age"], sex=r["sex"], bmi=r["bmi"],
                        prior_fragility_fracture=r["fracture"], on_treatment=r["treated"],
                        femoral_neck_t=r["t"]) for r in rows])
        period = (FIRST.isoformat(), LAST.isoformat(), REPORT.isoformat())
        assert cases(con, "QM-LOW-RISK-SCREEN", *period) == _low_risk(rows)
        assert cases(con, "QM-REPEAT-TOO-SOON", *period) == _repeat(rows)
    finally:
        con.close()
