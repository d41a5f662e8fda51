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
        return [{**row, "exam_id": f"W{i}"} for i, row in enumerate(rows)]

    return st.lists(who_exams(), min_size=1, max_size=max_size).map(number)
