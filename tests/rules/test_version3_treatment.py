"""Clinical rules version 3, the treatment decision (clinical-rules.md sections 4, 4a, 4b):
every bound on both sides, the worked examples, the history inputs the lines read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from rules_helpers import SCHEMA, assess, assess_worked, decide, frame, worked

from transforms.rules.decide import EXTRA_INPUTS, Decisions
from transforms.rules.ruleset import Ruleset

#: The exam frame with the history stage's columns (absent from the canonical ones).
HX_SCHEMA = {**SCHEMA, **EXTRA_INPUTS}


def with_history(ruleset: Ruleset, **changes: Any) -> Decisions:
    """Decide the worked example with some fields changed, history columns allowed."""
    row = dict.fromkeys(HX_SCHEMA) | worked(**{k: v for k, v in changes.items()
                                               if k in SCHEMA})
    row.update({k: v for k, v in changes.items() if k not in SCHEMA})
    return decide(pl.DataFrame([row], schema=HX_SCHEMA), ruleset)


def assess_history(ruleset: Ruleset, **changes: Any) -> dict[str, Any]:
    return with_history(ruleset, **changes).assessments.row(0, named=True)


@pytest.mark.parametrize(("hip", "major", "treatment", "line"), [
    (3.0, 9.0, "consider", "TX-FRAX-HIGH"),
    (2.999999, 9.0, "not_indicated", "TX-LOW-RISK"),
    (1.2, 20.0, "consider", "TX-FRAX-HIGH"),
    (1.2, 19.999999, "not_indicated", "TX-LOW-RISK"),
])
def test_frax_cuts_of_core(core, hip: float, major: float, treatment: str, line: str) -> None:
    row = assess_worked(core, frax_hip_pct=hip, frax_major_pct=major)
    assert (row["treatment"], line in row["reasons"]) == (treatment, True)


def test_glucocorticoid_adjustment_worked_example(core) -> None:
    """Section 4a: 18.5% and 2.6% at 10 mg/day for 12 months -> 21.275% and 3.12%."""
    row = assess_worked(core, frax_major_pct=18.5, frax_hip_pct=2.6,
                        glucocorticoid_mg_day=10.0, glucocorticoid_months=12.0)
    assert (row["frax_major_adjusted"], row["frax_hip_adjusted"]) == (21.275, 3.12)
    assert row["treatment"] == "consider"
    assert [r for r in row["reasons"] if r.startswith(("FRAX-", "TX-"))] == [
        "FRAX-ADJ-GLUCOCORTICOID", "TX-FRAX-HIGH"]


def test_spine_offset_worked_example(core) -> None:
    """Spine T -2.4, femoral neck T -1.0: d = 1.4 -> 1, major 18.5% -> 20.35%."""
    row = assess_worked(core, femoral_neck_t=-1.0, spine_t=-2.4, frax_major_pct=18.5)
    assert (row["frax_major_adjusted"], row["frax_hip_adjusted"]) == (20.35, 1.2)
    assert "FRAX-ADJ-SPINE-OFFSET" in row["reasons"]
    assert row["treatment"] == "consider"


@pytest.mark.parametrize(("neck", "spine", "adjusted"), [
    (-1.0, -1.49, 18.5),    # offset 0.49: no adjustment
    (-1.0, -1.5, 20.35),    # 0.5: d rounds half up to 1
    (-1.8, -2.3, 20.35),    # 0.49999999999999978 in binary: counts as 0.5
    (-1.0, -2.5, 22.2),     # 1.5 -> d = 2
    (-1.0, -2.49, 20.35),   # 1.49 -> d = 1
])
def test_spine_offset_bounds(core, neck: float, spine: float, adjusted: float) -> None:
    row = assess_worked(core, femoral_neck_t=neck, spine_t=spine, frax_major_pct=18.5)
    assert row["frax_major_adjusted"] == adjusted
    assert ("FRAX-ADJ-SPINE-OFFSET" in row["reasons"]) == (adjusted != 18.5)


def test_adjustment_ids_only_where_a_value_changed(core) -> None:
    steroid = {"glucocorticoid_mg_day": 10.0, "glucocorticoid_months": 12.0}
    blank = assess_worked(core, frax_major_pct=None, frax_hip_pct=None, **steroid)
    assert (blank["frax_major_adjusted"], blank["frax_hip_adjusted"]) == (None, None)
    assert "FRAX-ADJ-GLUCOCORTICOID" not in blank["reasons"]
    zero = assess_worked(core, frax_major_pct=0.0, frax_hip_pct=0.0, **steroid)
    assert "FRAX-ADJ-GLUCOCORTICOID" not in zero["reasons"]
    hip_only = assess_worked(core, frax_major_pct=None, frax_hip_pct=2.6, **steroid)
    assert (hip_only["frax_major_adjusted"], hip_only["frax_hip_adjusted"]) == (None, 3.12)
    assert "FRAX-ADJ-GLUCOCORTICOID" in hip_only["reasons"]


def test_adjusted_frax_null_off_the_who_basis(core) -> None:
    row = assess(core, sex="M", age_years=40.0, femoral_neck_z=-1.0, frax_major_pct=9.0,
                 frax_hip_pct=1.2)
    assert row["basis"] == "iscd_z_score"
    assert (row["frax_major_adjusted"], row["frax_hip_adjusted"]) == (None, None)


@pytest.mark.parametrize(("frax", "treatment", "reasons"), [
    ({"frax_major_pct": 9.0, "frax_hip_pct": 1.2}, "not_indicated", ["TX-LOW-RISK"]),
    ({"frax_major_pct": None, "frax_hip_pct": 1.2}, "consider",
     ["TX-RISK-FEATURES", "TX-FRAX-MISSING"]),
])
def test_risk_features_decide_only_without_frax(core, frax, treatment, reasons) -> None:
    row = assess_worked(core, current_smoker=True, **frax)
    assert row["treatment"] == treatment
    assert [r for r in row["reasons"] if r.startswith("TX-")] == reasons


def test_frax_missing_alone_still_asks_for_frax(core) -> None:
    row = assess_worked(core, frax_major_pct=None)
    assert (row["treatment"], [r for r in row["reasons"] if r.startswith("TX-")]) == (
        "needs_risk_assessment", ["TX-FRAX-MISSING"])


@pytest.mark.parametrize(("t", "flagged"), [(-0.5, True), (-1.0, True), (-1.1, False),
                                            (-2.6, False)])
def test_vertebral_fracture_recommended_at_any_t(core, t: float, flagged: bool) -> None:
    rows = [worked(femoral_neck_t=t, vertebral_fracture=True)]
    decided = decide(frame(rows), core)
    row = decided.assessments.row(0, named=True)
    assert row["treatment"] == "recommended"
    assert "TX-VERTEBRAL-FX" in row["reasons"]
    assert ("VERTEBRAL_FX_NORMAL_BMD" in decided.flags["code"].to_list()) == flagged


@pytest.mark.parametrize(("ruleset", "line"), [("core", "TX-OSTEOPOROSIS-HISTORY"),
                                              ("bhof", "BHOF-OSTEOPOROSIS-HISTORY")])
def test_osteoporosis_history(request, ruleset: str, line: str) -> None:
    """An earlier visit's osteoporosis (T -2.6) decides a later T -2.4 (section 7a)."""
    rules = request.getfixturevalue(ruleset)
    rows = [worked(exam_id="A", patient_id="H", exam_date=dt.date(2022, 3, 1),
                   femoral_neck_t=-2.6),
            worked(exam_id="B", patient_id="H", femoral_neck_t=-2.4)]
    row = decide(frame(rows), rules).assessments.row(1, named=True)
    assert (row["who_category"], row["treatment"]) == ("osteopenia", "recommended")
    assert line in row["reasons"]
    assert row["history_used"] == ["HX-OSTEOPOROSIS-PERSISTS"]
    assert line not in assess_worked(rules, femoral_neck_t=-2.4)["reasons"]


@pytest.mark.parametrize(("central_t", "treatment"), [(-2.7, "recommended"),
                                                      (-0.5, "not_indicated")])
def test_central_t_carried_to_a_forearm_visit(core, central_t: float, treatment: str
                                              ) -> None:
    """HX-CENTRAL-SITE: the lines read the lower T; the stored category stays measured;
    a higher central T never lowers the forearm's own decision."""
    rows = [worked(exam_id="A", patient_id="H", exam_date=dt.date(2024, 3, 1),
                   femoral_neck_t=central_t),
            worked(exam_id="B", patient_id="H", femoral_neck_t=None, femoral_neck_z=None,
                   radius_33_t=-1.5)]
    row = decide(frame(rows), core).assessments.row(1, named=True)
    assert (row["diagnostic_site"], row["diagnostic_t_score"], row["who_category"]) == (
        "radius_33", -1.5, "osteopenia")
    assert row["treatment"] == treatment
    assert ("TX-OSTEOPOROSIS" in row["reasons"]) is (central_t < -2.5)
    assert ("HX-CENTRAL-SITE" in row["history_used"]) is (central_t < -1.5)


def test_history_used_absent_is_empty(core) -> None:
    assert assess_worked(core)["history_used"] == []


def test_history_flags(core) -> None:
    """A vertebral fracture recorded, then a visit of two rows, one saying no."""
    rows = [worked(exam_id="A", patient_id="H", exam_date=dt.date(2024, 3, 1),
                   vertebral_fracture=True),
            worked(exam_id="B", patient_id="H", vertebral_fracture=False),
            worked(exam_id="C", patient_id="H", femoral_neck_t=None, radius_33_t=-1.0)]
    decided = decide(frame(rows), core)
    flags = {(r["exam_id"], r["code"]): (r["severity"], r["detail"])
             for r in decided.flags.iter_rows(named=True)}
    for exam_id in ("B", "C"):
        assert flags[(exam_id, "SAME_DAY_EXAMS")] == (
            "info", "judged with the other exams of the same day")
        assert flags[(exam_id, "FRACTURE_HISTORY_CONFLICT")] == (
            "warning", "recorded no after an earlier fracture; the fracture still counts")
    assert ("A", "SAME_DAY_EXAMS") not in flags


@pytest.mark.parametrize(("treated_before", "met"), [(True, True), (False, False)])
def test_a_new_fracture_on_treatment_is_very_high_risk(core, treated_before: bool,
                                                       met: bool) -> None:
    """VHR-FX-ON-TREATMENT's history part: a fracture new at this visit, the previous one
    on treatment; it persists to the next visit."""
    rows = [worked(exam_id="A", patient_id="H", exam_date=dt.date(2022, 3, 1),
                   on_treatment=treated_before),
            worked(exam_id="B", patient_id="H", exam_date=dt.date(2023, 3, 1),
                   prior_fragility_fracture=True),
            worked(exam_id="C", patient_id="H")]
    out = decide(frame(rows), core).assessments
    assert ["VHR-FX-ON-TREATMENT" in r for r in out["reasons"]] == [False, met, met]


# --- very high risk (section 4b) ----------------------------------------------------------

@pytest.mark.parametrize(("changes", "line", "met"), [
    ({"femoral_neck_t": -3.0}, "VHR-VERY-LOW-T", False),
    ({"femoral_neck_t": -3.000001}, "VHR-VERY-LOW-T", True),
    ({"frax_major_pct": 30.0}, "VHR-FRAX", False),
    ({"frax_major_pct": 30.000001}, "VHR-FRAX", True),
    ({"frax_hip_pct": 4.5}, "VHR-FRAX", False),
    ({"frax_hip_pct": 4.500001}, "VHR-FRAX", True),
    ({"prior_fracture_sites": ["forearm", "humerus"]}, "VHR-MULTIPLE-FX", True),
    ({"prior_fracture_sites": ["other", "hip"]}, "VHR-MULTIPLE-FX", True),
    ({"prior_fracture_sites": ["vertebral"], "vertebral_fracture": True},
     "VHR-MULTIPLE-FX", False),
    ({"prior_fracture_sites": ["forearm"], "vertebral_fracture": True},
     "VHR-MULTIPLE-FX", True),
    ({"prior_fragility_fracture": True}, "VHR-MULTIPLE-FX", False),
    ({"last_fracture_date": dt.date(2024, 3, 14)}, "VHR-RECENT-FX", True),   # 365 days
    ({"last_fracture_date": dt.date(2024, 3, 13)}, "VHR-RECENT-FX", False),  # 366 days
    ({"treatment_start_date": dt.date(2023, 1, 1), "prior_fragility_fracture": True,
      "last_fracture_date": dt.date(2023, 1, 2)}, "VHR-FX-ON-TREATMENT", True),
    ({"prior_fragility_fracture": True, "glucocorticoid_mg_day": 7.5,
      "glucocorticoid_months": 3.0}, "VHR-FX-GLUCOCORTICOID", True),
    ({"prior_fragility_fracture": True, "glucocorticoid_mg_day": 7.4,
      "glucocorticoid_months": 3.0}, "VHR-FX-GLUCOCORTICOID", False),
])
def test_very_high_risk_lines(core, changes, line: str, met: bool) -> None:
    decided = with_history(core, **changes)
    row = decided.assessments.row(0, named=True)
    assert (line in row["reasons"]) == met
    flags = decided.flags.filter(decided.flags["code"] == "VERY_HIGH_RISK")["detail"].to_list()
    if met:
        assert flags == [f"very high risk, lines met: {line}"]
        assert row["treatment"] == "recommended"
        assert row["first_line_therapy"] == (
            "specialist review: anabolic or parenteral therapy first")
    else:
        assert flags == []


@pytest.mark.parametrize(("changes", "treatment", "escalated"), [
    ({}, "recommended", True),                                     # not_indicated
    ({"frax_major_pct": None}, "recommended", True),               # needs_risk_assessment
    ({"frax_hip_pct": 3.0}, "recommended", True),                  # consider
    ({"prior_fragility_fracture": True}, "recommended", False),    # already recommended
    ({"on_treatment": True}, "on_treatment", False),
])
def test_escalation(core, changes, treatment: str, escalated: bool) -> None:
    row = assess_worked(core, last_fracture_date=dt.date(2025, 1, 1), **changes)
    assert row["treatment"] == treatment
    assert ("VHR-ESCALATE" in row["reasons"]) == escalated
    if treatment == "on_treatment":
        assert row["first_line_therapy"] is None


def test_article_vignette_spine_34_vertebral_frax_35(core, bhof, oc) -> None:
    """Section 12, item 7: no longer an oral bisphosphonate first, under any ruleset."""
    for rules in (core, bhof, oc):
        row = assess_worked(rules, spine_t=-3.4, vertebral_fracture=True, frax_major_pct=35.0)
        assert row["treatment"] == "recommended"
        assert row["first_line_therapy"] == (
            "specialist review: anabolic or parenteral therapy first")
        assert {"VHR-VERY-LOW-T", "VHR-FRAX"} <= set(row["reasons"])


# --- drug holiday (quality-measures.md section 2) ----------------------------------------

@pytest.mark.parametrize(("changes", "reasons"), [
    ({}, ["TX-LOW-RISK", "TX-DRUG-HOLIDAY"]),
    ({"prior_fragility_fracture": True}, ["TX-FRAGILITY-FX", "TX-DRUG-HOLIDAY"]),
    ({"femoral_neck_t": -3.1}, ["TX-OSTEOPOROSIS", "TX-DRUG-HOLIDAY"]),
])
def test_drug_holiday(core, changes, reasons: list[str]) -> None:
    """Not on treatment, never a candidate: the lines keep their IDs, +24 months."""
    decided = decide(frame([worked(treatment_drug="drug_holiday", on_treatment=False,
                                   **changes)]), core)
    row = decided.assessments.row(0, named=True)
    assert (row["treatment"], row["first_line_therapy"]) == ("drug_holiday", None)
    assert [r for r in row["reasons"] if r.startswith("TX-")] == reasons
    assert "VHR-ESCALATE" not in row["reasons"]
    assert row["next_dxa_due"] == dt.date(2027, 3, 14)
    codes = decided.flags["code"].to_list()
    assert ("VERY_HIGH_RISK" in codes) == ("femoral_neck_t" in changes)
    assert "ON_TREATMENT_NO_INDICATION" not in codes


def test_other_drugs_are_not_a_holiday(core) -> None:
    row = assess_worked(core, treatment_drug="alendronate", on_treatment=True)
    assert row["treatment"] == "on_treatment"
    assert "TX-DRUG-HOLIDAY" not in row["reasons"]
