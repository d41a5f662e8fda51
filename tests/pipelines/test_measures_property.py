"""Every measure against a brute-force count in Python over small generated registries
(patients with one to four exams around the period), the spec's sentences read directly:
no window, no ASOF join, no shared pass."""

from __future__ import annotations

import datetime as dt

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measures_registry import cases, exam, fill

from pipelines.registry.store import migrate

#: A year and a quarter: QM-FOLLOWUP-KEPT's numerator needs a visit after the period's end.
PERIODS = ((dt.date(2025, 1, 1), dt.date(2025, 12, 31)), (dt.date(2025, 7, 1),
                                                          dt.date(2025, 9, 30)))
REPORT = dt.date(2026, 2, 15)
START = dt.date(2023, 6, 1)
#: Fracture dates: each period's edges, and 184, 183 and 182 days before the report date.
FRACTURE_DAYS = tuple(dt.date.fromisoformat(d) for d in (
    "2024-12-31", "2025-01-01", "2025-06-30", "2025-07-01", "2025-08-15", "2025-08-16",
    "2025-08-17", "2025-09-30", "2025-12-31"))

exam_fields = st.fixed_dictionaries({
    "offset": st.integers(0, 1000), "age": st.sampled_from([49.5, 50.0, 64.9, 65.0, 70.0]),
    "sex": st.sampled_from(["F", "M"]), "bmi": st.sampled_from([19.0, 20.0, 25.0]),
    "fracture": st.booleans(), "treated": st.booleans(),
    "t": st.sampled_from([-2.0, -1.5, -1.4, 0.0, None]),
    "due": st.one_of(st.none(), st.integers(300, 800)),
    "recommended": st.booleans(),
    "broke": st.one_of(st.none(), st.sampled_from(FRACTURE_DAYS)),
    "start": st.one_of(st.none(), st.integers(-3, 190)),
    "after": st.one_of(st.none(), st.sampled_from([-1, 0, 120, 183, 184, 300])),
})
registries = st.lists(st.lists(exam_fields, min_size=1, max_size=4), min_size=1, max_size=8)


def _rows(patients: list[list[dict]]) -> list[dict]:
    rows = [dict(e, patient=f"P{p}", exam_id=f"P{p}-E{i}",
                 date=START + dt.timedelta(days=e["offset"]) if e["broke"] is None
                 or e["after"] is None else e["broke"] + dt.timedelta(days=e["after"]))
            for p, exams in enumerate(patients) for i, e in enumerate(exams)]
    return [dict(r, due_date=None if r["due"] is None
                 else r["date"] + dt.timedelta(days=r["due"]),
                 start_date=None if r["broke"] is None or r["start"] is None
                 else r["broke"] + dt.timedelta(days=r["start"])) for r in rows]


def _low_risk(rows: list[dict], first: dt.date, last: dt.date) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = sorted((r for r in rows if r["patient"] == patient),
                     key=lambda r: (r["date"], r["exam_id"]))
        earliest = own[0]
        if not (first <= earliest["date"] <= last and earliest["sex"] == "F"
                and 50 <= int(earliest["age"]) <= 64):
            continue
        den += 1
        fractured = any(r["fracture"] for r in own if r["date"] <= earliest["date"])
        num += not (fractured or earliest["treated"] or earliest["bmi"] <= 20)
    return den, num


def _repeat(rows: list[dict], first: dt.date, last: dt.date) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = [r for r in rows if r["patient"] == patient]
        for day in sorted({r["date"] for r in own if first <= r["date"] <= last}):
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


def _followup(rows: list[dict], first: dt.date, last: dt.date) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = [r for r in rows if r["patient"] == patient and r["date"] <= REPORT]
        by_end = [r for r in own if r["date"] <= last]
        if not by_end:
            continue
        latest = max(by_end, key=lambda r: (r["date"], r["exam_id"]))
        due = latest["due_date"]
        if due is None or not first <= due <= last or due > REPORT - dt.timedelta(days=90):
            continue
        den += 1
        num += any(latest["date"] < r["date"] <= due + dt.timedelta(days=90)
                   and r["t"] is not None for r in own)
    return den, num


def _gap(rows: list[dict], first: dt.date, last: dt.date) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = [r for r in rows if r["patient"] == patient]
        later = [r for r in own if first <= r["date"] <= last and any(
            e["recommended"] and (r["date"] - e["date"]).days >= 180 for e in own)]
        if later:
            den += 1
            num += not max(later, key=lambda r: (r["date"], r["exam_id"]))["treated"]
    return den, num


def _post_fracture(rows: list[dict], first: dt.date, last: dt.date) -> tuple[int, int]:
    den = num = 0
    for patient in {r["patient"] for r in rows}:
        own = [r for r in rows if r["patient"] == patient and r["date"] <= REPORT
               and r["broke"] is not None]
        broken = [r["broke"] for r in own if first <= r["broke"] <= last
                  and (REPORT - r["broke"]).days >= 183]
        if not broken:
            continue
        broke = min(broken)
        at = min((r for r in own if r["broke"] == broke), key=lambda r: (r["date"], r["exam_id"]))
        den += 1
        num += (0 <= (at["date"] - broke).days <= 183 or at["treated"]
                and at["start_date"] is not None and 0 <= (at["start_date"] - broke).days <= 183)
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
                        femoral_neck_t=r["t"], last_fracture_date=r["broke"],
                        treatment_start_date=r["start_date"],
                        treatment="recommended" if r["recommended"] else "consider",
                        next_dxa_due=r["due_date"] and r["due_date"].isoformat())
                   for r in rows])
        for first, last in PERIODS:
            period = (first.isoformat(), last.isoformat(), REPORT.isoformat())
            assert cases(con, "QM-LOW-RISK-SCREEN", *period) == _low_risk(rows, first, last)
            assert cases(con, "QM-REPEAT-TOO-SOON", *period) == _repeat(rows, first, last)
            assert cases(con, "QM-FOLLOWUP-KEPT", *period) == _followup(rows, first, last)
            assert cases(con, "QM-TREATMENT-GAP", *period) == _gap(rows, first, last)
            assert cases(con, "QM-POST-FRACTURE", *period) == _post_fracture(rows, first, last)
    finally:
        con.close()
