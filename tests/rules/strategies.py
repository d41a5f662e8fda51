"""Hypothesis strategies for exams, weighted towards the rule boundaries of all three
rulesets (core-2025, bhof-2022, test-lenient) and towards not-recorded inputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from schemas.columns import CANONICAL_COLUMNS


def maybe(values: list[Any]) -> st.SearchStrategy[Any]:
    """One of the values, or None (not recorded)."""
    return st.sampled_from([None, *values])


T_SCORES = [-4.0, -3.1, -3.0, -2.9, -2.6, -2.5, -2.4, -2.1, -2.0, -1.7, -1.6, -1.5, -1.4,
            -1.2, -1.1, -1.0, -0.9, 0.0, 1.2]
Z_SCORES = [-3.0, -2.6, -2.5, -2.4, -2.1, -2.0, -1.9, -1.0, 0.0, 1.0]
AGES = [10.0, 17.0, 18.0, 19.0, 19.9, 20.0, 30.0, 44.0, 45.0, 49.0, 50.0, 59.0, 60.0, 64.0,
        65.0, 69.0, 70.0, 88.0]
MONTH_ENDS = [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2023, 8, 31),
              dt.date(2025, 12, 31), dt.date(2023, 3, 31)]


def score(values: list[float]) -> st.SearchStrategy[float | None]:
    """Mostly boundary values, sometimes any one-decimal score, often not recorded."""
    rounded = st.integers(-50, 30).map(lambda i: i / 10)
    return st.one_of(maybe(values), rounded, st.none())


@st.composite
def exams(draw: st.DrawFn) -> dict[str, Any]:
    """One canonical exam (exam_id is set by the caller)."""
    row: dict[str, Any] = dict.fromkeys([*CANONICAL_COLUMNS, "prior_fracture_sites"])
    boolean = maybe([True, False])
    row.update(
        patient_id="P",
        exam_date=draw(st.one_of(st.sampled_from(MONTH_ENDS),
                                 st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)))),
        age_years=draw(st.one_of(st.sampled_from(AGES), st.integers(0, 100).map(float))),
        sex=draw(st.sampled_from(["F", "M"])),
        menopausal_status=draw(maybe(["pre", "peri", "post", "unknown"])),
        bmi=draw(maybe([17.0, 18.4, 18.5, 18.6, 18.9, 19.0, 19.1, 24.0])),
        spine_t=draw(score(T_SCORES)),
        spine_z=draw(score(Z_SCORES)),
        spine_vertebrae=draw(maybe([1, 2, 3, 4])),
        total_hip_t=draw(score(T_SCORES)),
        total_hip_z=draw(score(Z_SCORES)),
        femoral_neck_t=draw(score(T_SCORES)),
        femoral_neck_z=draw(score(Z_SCORES)),
        radius_33_t=draw(score(T_SCORES)),
        radius_33_z=draw(score(Z_SCORES)),
        prior_fragility_fracture=draw(boolean),
        vertebral_fracture=draw(boolean),
        glucocorticoid_mg_day=draw(maybe([0.0, 4.9, 5.0, 7.4, 7.5, 10.0])),
        glucocorticoid_months=draw(maybe([0.0, 2.9, 3.0, 5.9, 6.0, 12.0])),
        parent_hip_fracture=draw(boolean),
        parent_hip_fracture_age=draw(maybe([50.0, 59.0, 60.0, 69.0, 70.0, 80.0])),
        height_loss_cm=draw(maybe([0.0, 3.9, 4.0, 4.1, 5.9, 6.0, 6.1])),
        current_smoker=draw(boolean),
        alcohol_units_day=draw(maybe([0.0, 2.9, 3.0, 3.9, 4.0, 5.0])),
        kyphosis=draw(boolean),
        back_pain=draw(boolean),
        on_treatment=draw(boolean),
        frax_major_pct=draw(maybe([9.0, 19.9, 20.0, 29.9, 30.0])),
        frax_hip_pct=draw(maybe([1.2, 2.9, 3.0, 4.9, 5.0, 9.9, 10.0])),
    )
    sites = draw(fracture_sites())
    if sites:  # a listed site means a prior fragility fracture (validated upstream)
        row["prior_fragility_fracture"] = True
    row["prior_fracture_sites"] = sites
    return row


SITE_CODES = ["hip", "vertebral", "humerus", "pelvis", "forearm", "other"]


def fracture_sites() -> st.SearchStrategy[list[str] | None]:
    """Prior fracture sites: mostly not recorded, else 1-3 distinct codes."""
    listed = st.lists(st.sampled_from(SITE_CODES), min_size=1, max_size=3, unique=True)
    return st.one_of(st.none(), st.none(), listed)


def batches(max_size: int = 40) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A batch of exams with unique exam ids, each of its own patient (so that each is
    judged alone: patients with several exams have their own strategy)."""

    def number(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "exam_id": f"X{i}", "patient_id": f"P{i}"} for i, row in enumerate(rows)]

    return st.lists(exams(), min_size=1, max_size=max_size).map(number)


@st.composite
def who_exams(draw: st.DrawFn) -> dict[str, Any]:
    """An exam assessed on the WHO basis with osteopenia or normal BMD and no fragility
    fracture: where the treatment lines of the rulesets part (sections 4-5)."""
    row = draw(exams())
    row.update(
        sex="F",
        menopausal_status="post",
        age_years=draw(st.sampled_from([50.0, 62.0, 64.0, 65.0, 70.0, 88.0])),
        femoral_neck_t=draw(st.sampled_from([-2.4, -2.1, -1.7, -1.6, -1.5, -1.2, -1.0,
                                             -0.5])),
        spine_t=None, total_hip_t=None, radius_33_t=None,
        prior_fragility_fracture=draw(st.sampled_from([None, False])),
        prior_fracture_sites=None,
    )
    return row


def who_batches(max_size: int = 40) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A batch of `who_exams` with unique exam ids."""

    def number(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "exam_id": f"W{i}", "patient_id": f"WP{i}"} for i, row in enumerate(rows)]

    return st.lists(who_exams(), min_size=1, max_size=max_size).map(number)


# --------------------------------------------------------------------------- version 3

#: CAROC age-row edges (section 5a) and the basis ages around them.
CAROC_AGES = [49.0, 49.9, 50.0, 54.0, 55.0, 59.0, 60.0, 64.0, 65.0, 69.0, 70.0, 74.0, 75.0,
              79.0, 80.0, 84.0, 85.0, 86.0]
V3_T_SCORES = [-4.0, -3.9, -3.8, -3.7, -3.2, -3.1, -3.0, -2.9, -2.6, -2.5, -2.4, -2.3, -2.2,
               -2.1, -1.9, -1.7, -1.2, -1.0, -0.9, -0.5, 0.1, 0.2]
SPINE_HIP_OFFSETS = [0.4, 0.49, 0.5, 0.51, 0.6, 1.4, 1.5, 2.5]
GC_DOSES = [0.0, 2.4, 2.5, 4.9, 5.0, 7.4, 7.5, 10.0]
GC_MONTHS = [2.9, 3.0, 6.0, 12.0]
V3_FRAX_HIP = [1.2, 2.9, 3.0, 3.7, 3.8, 4.5, 4.6, 5.0, 10.0]
V3_FRAX_MAJOR = [9.0, 17.3, 17.4, 19.9, 20.0, 26.0, 26.1, 29.9, 30.0, 30.1, 35.0]
MANUFACTURERS = ["Hologic", "GE Lunar", None]


@st.composite
def v3_exam(draw: st.DrawFn, sex: str, status: str | None, age: float, day: dt.date,
            forearm_only: bool) -> dict[str, Any]:
    """One exam row of a patient (version 3): sites on the WHO, CAROC and VHR cuts, BMD
    without T on some rows, the risk inputs of 4a, 4b and 5a."""
    row: dict[str, Any] = dict.fromkeys([*CANONICAL_COLUMNS, "prior_fracture_sites"])
    row.update(patient_id="P", exam_date=day, age_years=age, sex=sex,
               menopausal_status=status if sex == "F" else None)
    maker = draw(st.sampled_from(MANUFACTURERS))
    row["scanner_manufacturer"] = maker
    t = st.one_of(st.sampled_from(V3_T_SCORES), st.none())
    if forearm_only:
        row["radius_33_t"] = draw(st.sampled_from(V3_T_SCORES))
        row["radius_33_z"] = draw(maybe([-2.1, -1.0, 0.0]))
    else:
        neck = draw(t)
        row["femoral_neck_t"] = neck
        row["femoral_neck_z"] = draw(maybe([-2.1, -2.0, -1.0, 0.0]))
        row["total_hip_t"] = draw(t)
        if neck is not None and draw(st.booleans()):
            row["spine_t"] = neck - draw(st.sampled_from(SPINE_HIP_OFFSETS))
        else:
            row["spine_t"] = draw(t)
        row["spine_z"] = draw(maybe([-2.1, -1.0, 0.0]))
        row["spine_vertebrae"] = draw(maybe([1, 2, 4]))
        row["radius_33_t"] = draw(maybe([-3.1, -2.6, -1.5]))
        # BMD: for men's CAROC (Hologic, female reference), and BMD with no T-score
        if draw(st.booleans()):
            row["femoral_neck_bmd"] = draw(st.sampled_from([0.378, 0.418, 0.43, 0.498, 0.54,
                                                            0.558, 0.6, 0.618, 0.7]))
            if draw(st.booleans()):
                row["femoral_neck_t"] = None
        if draw(st.integers(0, 4)) == 0:
            row["spine_bmd"] = 0.79
            row["spine_t"] = None
    fx = draw(st.sampled_from([None, None, True, False]))
    sites = draw(fracture_sites()) if fx is True else None
    row.update(
        prior_fragility_fracture=fx, prior_fracture_sites=sites,
        vertebral_fracture=draw(st.sampled_from([None, None, False, True])),
        glucocorticoid_mg_day=draw(maybe(GC_DOSES)),
        glucocorticoid_months=draw(maybe(GC_MONTHS)),
        parent_hip_fracture=draw(maybe([True, False])),
        height_loss_cm=draw(maybe([0.0, 4.0, 4.1])),
        current_smoker=draw(maybe([True, False])),
        alcohol_units_day=draw(maybe([0.0, 3.0])),
        bmi=draw(maybe([18.9, 19.0, 24.0])),
        kyphosis=draw(maybe([True, False])),
        on_treatment=draw(maybe([True, False])),
        frax_major_pct=draw(maybe(V3_FRAX_MAJOR)),
        frax_hip_pct=draw(maybe(V3_FRAX_HIP)),
    )
    if fx is True and draw(st.booleans()):
        row["last_fracture_date"] = day - dt.timedelta(days=draw(st.sampled_from(
            [0, 200, 365, 366, 900])))
    if draw(st.integers(0, 3)) == 0:
        row["treatment_start_date"] = day - dt.timedelta(days=draw(st.sampled_from(
            [0, 300, 700, 2000])))
    return row


@st.composite
def patients(draw: st.DrawFn, min_exams: int = 1, max_exams: int = 5
             ) -> list[dict[str, Any]]:
    """One patient's 1-5 exams (version 3, section 7a): same-day rows (some forearm-only),
    blank fracture cells and an explicit no after a yes, osteoporosis that improves,
    on-treatment sequences; men and women across the CAROC age rows."""
    sex = draw(st.sampled_from(["F", "F", "M"]))
    status = draw(st.sampled_from(["post", "peri", "pre", "unknown", None]))
    age0 = draw(st.one_of(st.sampled_from(CAROC_AGES),
                          st.sampled_from([19.0, 30.0, 40.0, 45.0, 48.0])))
    n = draw(st.integers(min_exams, max_exams))
    day = draw(st.sampled_from(MONTH_ENDS))
    days = 0
    rows = []
    improving = draw(st.booleans())
    for i in range(n):
        if i and draw(st.integers(0, 2)) != 0:  # a third of later rows same day
            step = draw(st.sampled_from([30, 364, 365, 366, 730]))
            days += step
        when = day + dt.timedelta(days=days)
        age = age0 + days // 365
        forearm = draw(st.integers(0, 3)) == 0
        row = draw(v3_exam(sex, status, float(age), when, forearm))
        if improving and not forearm:
            row["femoral_neck_t"] = -2.6 if i == 0 else -2.4
        rows.append(row)
    return rows


def patient_batches(max_patients: int = 6) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Several patients' exams, unique exam and patient ids, rows of one patient apart."""

    def number(groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        out = []
        for p, rows in enumerate(groups):
            for i, row in enumerate(rows):
                out.append({**row, "patient_id": f"P{p}", "exam_id": f"P{p}-X{i}"})
        return out

    return st.lists(patients(), min_size=1, max_size=max_patients).map(number)
