"""Section 7a, the patient and not the exam: each HX rule on both sides of where it
applies (same day vs the next day, a blank vs an explicit no, a forearm-only visit vs one
with a central site, a carried value lower vs higher), and properties that any
patient-level rule must keep: the row order, other patients and the batch split change
nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rules_helpers import exam, frame

from transforms.rules.decide import decide, decided_frame
from transforms.rules.history import HX_CENTRAL_T, HX_FX_ON_TREATMENT, HX_OSTEOPOROSIS
from transforms.rules.ruleset import Ruleset, load_ruleset

D1, D2, D3 = dt.date(2022, 3, 1), dt.date(2023, 3, 1), dt.date(2024, 3, 1)


@pytest.fixture(scope="module")
def core() -> Ruleset:
    return load_ruleset("core-2025")


def visit(exam_id: str, date: dt.date, **fields: Any) -> dict[str, Any]:
    """An exam of patient HX: a postmenopausal woman of 66 with FRAX recorded and low."""
    defaults = {"age_years": 66.0, "frax_major_pct": 9.0, "frax_hip_pct": 1.0}
    return exam(exam_id=exam_id, patient_id="HX", exam_date=date, **{**defaults, **fields})


def judged(ruleset: Ruleset, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each exam's assessment, by exam id."""
    out = decide(frame(rows), ruleset).assessments
    return {r["exam_id"]: r for r in out.iter_rows(named=True)}


def columns(ruleset: Ruleset, rows: list[dict[str, Any]], *names: str) -> dict[str, tuple]:
    """Intermediate columns of the decided frame, by exam id."""
    out = decided_frame(frame(rows), ruleset)
    return {r[0]: r[1:] for r in out.select("exam_id", *names).iter_rows()}


# -- HX-SAME-DAY ----------------------------------------------------------------------------

def test_a_same_day_forearm_row_is_judged_with_the_hip_row(core: Ruleset) -> None:
    """The hip row has a valid hip and no spine: the visit's radius counts (SITE-RADIUS
    at the visit), its T -2.7 is the visit's lowest, both rows read osteoporosis."""
    rows = [visit("H", D1, femoral_neck_t=-2.0), visit("R", D1, radius_33_t=-2.7)]
    out = judged(core, rows)
    for exam_id in ("H", "R"):
        assert out[exam_id]["diagnostic_site"] == "radius_33"
        assert out[exam_id]["diagnostic_t_score"] == -2.7
        assert out[exam_id]["who_category"] == "osteoporosis"
        assert out[exam_id]["history_used"] == ["HX-SAME-DAY"]


def test_the_radius_does_not_count_where_the_visit_has_spine_and_hip(core: Ruleset) -> None:
    """Spine on one row, hip on another, radius on a third: the visit has both, so the
    radius is not a valid site (SITE-RADIUS applies to the visit as a whole)."""
    rows = [visit("S", D1, spine_t=-1.5), visit("H", D1, femoral_neck_t=-2.0),
            visit("R", D1, radius_33_t=-3.5)]
    out = judged(core, rows)
    assert {out[e]["diagnostic_t_score"] for e in "SHR"} == {-2.0}
    assert {out[e]["who_category"] for e in "SHR"} == {"osteopenia"}


def test_the_next_day_is_another_visit(core: Ruleset) -> None:
    rows = [visit("H", D1, femoral_neck_t=-2.0),
            visit("R", D1 + dt.timedelta(days=1), radius_33_t=-2.7)]
    out = judged(core, rows)
    assert out["H"]["who_category"] == "osteopenia"
    assert out["H"]["history_used"] == []
    assert "HX-SAME-DAY" not in out["R"]["history_used"]


def test_a_visit_merges_yes_over_blank_and_the_highest_number(core: Ruleset) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.0, current_smoker=None, glucocorticoid_mg_day=2.0,
                  glucocorticoid_months=6.0),
            visit("B", D1, spine_t=-1.0, current_smoker=True, glucocorticoid_mg_day=10.0,
                  glucocorticoid_months=1.0)]
    cols = columns(core, rows, "current_smoker", "glucocorticoid_mg_day",
                   "glucocorticoid_months")
    assert cols["A"] == cols["B"] == (True, 10.0, 6.0)


# -- HX-FRACTURE-PERSISTS -------------------------------------------------------------------

def test_a_fracture_persists_over_a_blank_and_sites_accumulate(core: Ruleset) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.0, prior_fragility_fracture=True,
                  prior_fracture_sites=["forearm"]),
            visit("B", D2, femoral_neck_t=-2.0, prior_fragility_fracture=True,
                  prior_fracture_sites=["hip"]),
            visit("C", D3, femoral_neck_t=-2.0)]
    cols = columns(core, rows, "prior_fragility_fracture", "prior_fracture_sites",
                   "hx_fracture_conflict")
    assert cols["A"] == (True, ["forearm"], False)
    assert cols["B"] == (True, ["hip", "forearm"], False)
    assert cols["C"] == (True, ["hip", "forearm"], False)
    out = judged(core, rows)
    assert out["A"]["history_used"] == []
    assert out["B"]["history_used"] == ["HX-FRACTURE-PERSISTS"]  # forearm carried
    assert out["C"]["history_used"] == ["HX-FRACTURE-PERSISTS"]


def test_an_explicit_no_after_a_yes_is_a_conflict_and_the_fracture_counts(core: Ruleset
                                                                         ) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.0, vertebral_fracture=True),
            visit("B", D2, femoral_neck_t=-2.0, vertebral_fracture=False),
            visit("C", D3, femoral_neck_t=-2.0, vertebral_fracture=None)]
    cols = columns(core, rows, "vertebral_fracture", "hx_fracture_conflict")
    assert cols == {"A": (True, False), "B": (True, True), "C": (True, False)}


def test_no_fracture_carries_nothing(core: Ruleset) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.0, prior_fragility_fracture=False),
            visit("B", D2, femoral_neck_t=-2.0, prior_fragility_fracture=None)]
    cols = columns(core, rows, "prior_fragility_fracture", "prior_fracture_sites")
    assert cols == {"A": (False, None), "B": (None, None)}


# -- HX-OSTEOPOROSIS-PERSISTS ---------------------------------------------------------------

@pytest.mark.parametrize(("earlier_t", "carried"), [(-2.5, True), (-2.49, False)])
def test_osteoporosis_persists_from_t_minus_2_5(core: Ruleset, earlier_t: float,
                                                carried: bool) -> None:
    rows = [visit("A", D1, femoral_neck_t=earlier_t), visit("B", D2, femoral_neck_t=-2.4)]
    cols = columns(core, rows, HX_OSTEOPOROSIS)
    assert cols == {"A": (False,), "B": (carried,)}
    out = judged(core, rows)
    assert out["B"]["who_category"] == "osteopenia"  # the measured category stays
    assert ("HX-OSTEOPOROSIS-PERSISTS" in out["B"]["history_used"]) is carried


def test_an_earlier_osteoporosis_on_the_z_basis_does_not_persist(core: Ruleset) -> None:
    """A premenopausal woman's T -3.0 is not a WHO diagnosis (BASIS-ISCD-Z)."""
    rows = [visit("A", D1, femoral_neck_t=-3.0, femoral_neck_z=-1.0,
                  menopausal_status="pre", age_years=45.0),
            visit("B", D2, femoral_neck_t=-2.0, menopausal_status="post")]
    assert columns(core, rows, HX_OSTEOPOROSIS)["B"] == (False,)


# -- HX-CENTRAL-SITE ------------------------------------------------------------------------

def test_a_forearm_visit_reads_the_lower_central_t_and_keeps_its_own(core: Ruleset) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.3), visit("B", D2, radius_33_t=-1.2)]
    out = judged(core, rows)
    assert (out["B"]["diagnostic_site"], out["B"]["diagnostic_t_score"],
            out["B"]["who_category"]) == ("radius_33", -1.2, "osteopenia")
    assert columns(core, rows, HX_CENTRAL_T)["B"] == (-2.3,)
    assert out["B"]["history_used"] == ["HX-CENTRAL-SITE"]


def test_a_forearm_visit_lower_than_the_central_one_carries_nothing(core: Ruleset) -> None:
    """Its own T is lower, and the central visit (normal BMD) set no date to keep."""
    rows = [visit("A", D1, femoral_neck_t=-0.5), visit("B", D2, radius_33_t=-2.0)]
    out = judged(core, rows)
    assert out["B"]["history_used"] == []


def test_a_forearm_visit_without_an_earlier_central_one_carries_nothing(core: Ruleset
                                                                        ) -> None:
    rows = [visit("B", D2, radius_33_t=-1.2), visit("C", D3, femoral_neck_t=-2.0)]
    assert columns(core, rows, HX_CENTRAL_T) == {"B": (None,), "C": (None,)}


@pytest.mark.parametrize(("forearm_treated", "capped"), [(False, True), (True, False)])
def test_a_forearm_visit_is_never_due_after_the_central_one(
        core: Ruleset, forearm_treated: bool, capped: bool) -> None:
    """The central visit (untreated osteopenia) is due +24 months. A month later the
    forearm visit's own date is +24 months, later: moved to the central one's. On
    treatment its own date is +12 months, earlier: kept."""
    rows = [visit("A", D1, femoral_neck_t=-2.0),
            visit("B", D1 + dt.timedelta(days=30), radius_33_t=-1.5,
                  on_treatment=forearm_treated)]
    out = judged(core, rows)
    assert out["A"]["next_dxa_due"] == dt.date(2024, 3, 1)
    own = dt.date(2023, 3, 31) if forearm_treated else dt.date(2024, 3, 31)
    assert out["B"]["next_dxa_due"] == (dt.date(2024, 3, 1) if capped else own)
    assert "HX-CENTRAL-SITE" in out["B"]["history_used"]  # T -2.0 carried either way


# -- VHR-FX-ON-TREATMENT (history part) ----------------------------------------------------

@pytest.mark.parametrize(("treated_before", "met"), [(True, True), (False, False)])
def test_a_new_fracture_after_a_treated_visit_persists(core: Ruleset, treated_before: bool,
                                                       met: bool) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.0, on_treatment=treated_before,
                  prior_fragility_fracture=False),
            visit("B", D2, femoral_neck_t=-2.0, prior_fragility_fracture=True),
            visit("C", D3, femoral_neck_t=-2.0)]
    cols = columns(core, rows, HX_FX_ON_TREATMENT)
    assert cols == {"A": (False,), "B": (met,), "C": (met,)}


@pytest.mark.parametrize(("fracture", "met"), [(dt.date(2021, 1, 2), True),
                                               (dt.date(2021, 1, 1), False)])
def test_a_fracture_after_the_treatment_start(core: Ruleset, fracture: dt.date,
                                              met: bool) -> None:
    rows = [visit("A", D1, femoral_neck_t=-2.0, on_treatment=True,
                  treatment_start_date=dt.date(2021, 1, 1), last_fracture_date=fracture,
                  prior_fragility_fracture=True)]
    assert columns(core, rows, HX_FX_ON_TREATMENT)["A"] == (met,)


# -- properties -----------------------------------------------------------------------------

@st.composite
def patients(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Two or three patients of 1-4 exams, dates drawn so that same-day visits happen."""
    rows = []
    for p in range(draw(st.integers(2, 3))):
        for i in range(draw(st.integers(1, 4))):
            site = draw(st.sampled_from(["femoral_neck_t", "spine_t", "radius_33_t"]))
            rows.append(exam(
                exam_id=f"E{p}-{i}", patient_id=f"P{p}", age_years=70.0,
                exam_date=draw(st.sampled_from([D1, D2, D3])),
                **{site: draw(st.sampled_from([-3.1, -2.5, -2.4, -1.0, 0.5]))},
                prior_fragility_fracture=draw(st.sampled_from([None, True, False])),
                vertebral_fracture=draw(st.sampled_from([None, True, False])),
                on_treatment=draw(st.sampled_from([None, True, False])),
                frax_major_pct=draw(st.sampled_from([None, 9.0, 25.0])), frax_hip_pct=1.0))
    return rows


def _sorted(out: pl.DataFrame) -> pl.DataFrame:
    return out.sort("exam_id")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=patients(), seed=st.randoms(use_true_random=False))
def test_row_order_and_other_patients_change_nothing(rows: list[dict[str, Any]],
                                                      seed: Any) -> None:  # noqa: ANN401
    core = load_ruleset("core-2025")
    together = _sorted(decide(frame(rows), core).assessments)
    shuffled = list(rows)
    seed.shuffle(shuffled)
    assert _sorted(decide(frame(shuffled), core).assessments).equals(together)
    alone = pl.concat([
        decide(frame([r for r in rows if r["patient_id"] == p]), core).assessments
        for p in sorted({r["patient_id"] for r in rows})])
    assert _sorted(alone).equals(together)
