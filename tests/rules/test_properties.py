"""Properties that must hold for any exams (hypothesis)."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_helpers import frame
from strategies import batches, who_batches

from transforms.rules.decide import decide
from transforms.rules.ruleset import load_ruleset

CORE = load_ruleset("core-2025")
BHOF = load_ruleset("bhof-2022")
SEVERITY = {"normal": 0, "osteopenia": 1, "osteoporosis": 2}
LEVEL = {"not_indicated": 0, "needs_risk_assessment": 1, "consider": 2, "recommended": 3}
T_COLUMNS = ("spine_t", "total_hip_t", "femoral_neck_t", "radius_33_t")
#: Ways to add one high-risk feature to an exam.
FEATURES: list[dict[str, Any]] = [
    {"prior_fragility_fracture": True},
    {"glucocorticoid_mg_day": 10.0, "glucocorticoid_months": 12.0},
    {"parent_hip_fracture": True, "parent_hip_fracture_age": None},
    {"height_loss_cm": 6.5},
    {"vertebral_fracture": True},
    {"bmi": 17.0},
    {"current_smoker": True},
    {"alcohol_units_day": 5.0},
]
SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(rows=batches(), site=st.sampled_from(T_COLUMNS), drop=st.sampled_from([0.1, 0.5, 2.0]))
def test_lower_t_never_milder_category(rows, site: str, drop: float) -> None:
    lowered = [
        {**row, site: None if row[site] is None else round(row[site] - drop, 1)}
        for row in rows
    ]
    before = decide(frame(rows), CORE).assessments["who_category"].to_list()
    after = decide(frame(lowered), CORE).assessments["who_category"].to_list()
    for old, new in zip(before, after, strict=True):
        if old is not None:
            assert new is not None and SEVERITY[new] >= SEVERITY[old]


@SETTINGS
@given(rows=batches(), feature=st.sampled_from(FEATURES))
def test_added_feature_never_lowers_core_treatment(rows, feature: dict[str, Any]) -> None:
    more = [{**row, **feature} for row in rows]
    before = decide(frame(rows), CORE).assessments
    after = decide(frame(more), CORE).assessments
    for old, new in zip(before["treatment"], after["treatment"], strict=True):
        if old in ("not_applicable", "on_treatment"):
            assert new == old
        else:
            assert LEVEL[new] >= LEVEL[old]
    assert (after["risk_factor_count"] >= before["risk_factor_count"]).all()


@SETTINGS
@given(rows=batches(), seed=st.integers(0, 2**16))
def test_row_order_does_not_matter(rows, seed: int) -> None:
    shuffled = frame(rows).sample(fraction=1.0, shuffle=True, seed=seed)
    a = decide(frame(rows), CORE)
    b = decide(shuffled, CORE)
    assert a.assessments.sort("exam_id").equals(b.assessments.sort("exam_id"))
    assert a.flags.sort(pl.all()).equals(b.flags.sort(pl.all()))


#: Section 4 (core-2025) and section 5 (bhof-2022) thresholds, from the spec, not from
#: the ruleset files: the property checks that the files say what the spec says.
CORE_FRAX_HIP, BHOF_FRAX_HIP, FRAX_MAJOR, CORE_VF_T = 5.0, 3.0, 20.0, -1.6
OTHER_LOW_BMD = {"humerus", "pelvis", "forearm"}


def _at_least(value: float | None, limit: float) -> bool:
    return value is not None and value >= limit


def _core(row: dict[str, Any], category: str, t: float, features: int) -> str:
    """Section 4: the first matching line of core-2025 (not on treatment, WHO basis)."""
    fracture, vf = row["prior_fragility_fracture"] is True, row["vertebral_fracture"] is True
    hip, major = row["frax_hip_pct"], row["frax_major_pct"]
    osteopenia = category == "osteopenia"
    if fracture or category == "osteoporosis":
        return "recommended"
    if osteopenia and ((vf and t <= CORE_VF_T) or _at_least(hip, CORE_FRAX_HIP)
                       or _at_least(major, FRAX_MAJOR) or features > 0):
        return "consider"
    if category == "normal" and vf:
        return "consider"  # TX-VERTEBRAL-FX-NORMAL-BMD
    if osteopenia and (hip is None or major is None):
        return "needs_risk_assessment"
    return "not_indicated"


def _bhof(row: dict[str, Any], category: str) -> str:
    """Section 5: the first matching line of bhof-2022 (not on treatment, WHO basis)."""
    sites = set(row["prior_fracture_sites"] or [])
    fracture, vf = row["prior_fragility_fracture"] is True, row["vertebral_fracture"] is True
    hip, major = row["frax_hip_pct"], row["frax_major_pct"]
    osteopenia = category == "osteopenia"
    if sites & {"hip", "vertebral"} or vf or (fracture and not sites):
        return "recommended"
    if category == "osteoporosis":
        return "recommended"
    if osteopenia and (_at_least(hip, BHOF_FRAX_HIP) or _at_least(major, FRAX_MAJOR)):
        return "recommended"
    if osteopenia and sites & OTHER_LOW_BMD:
        return "consider"
    if osteopenia and (hip is None or major is None):
        return "needs_risk_assessment"
    return "not_indicated"  # an `other` site matches no fracture line


@SETTINGS
@given(rows=st.one_of(batches(), who_batches()))
def test_core_and_bhof_differ_only_where_sections_4_and_5_say(rows) -> None:
    """Sections 4-5: same basis, sites, features, on-treatment and Z-basis handling; the
    treatment follows each ruleset's lines exactly, by fracture site under bhof-2022."""
    a = decide(frame(rows), CORE).assessments.to_dicts()
    b = decide(frame(rows), BHOF).assessments.to_dicts()
    same = ("basis", "diagnostic_site", "diagnostic_t_score", "diagnostic_z_score",
            "who_category", "z_category", "high_risk_features", "risk_factor_count",
            "secondary_cause_workup", "vfa_recommended")
    for row, x, y in zip(rows, a, b, strict=True):
        assert {c: x[c] for c in same} == {c: y[c] for c in same}
        assert not any(r.startswith("BHOF-") for r in x["reasons"])
        assert not any(r.startswith("TX-") and r != "TX-ON-TREATMENT" for r in y["reasons"])
        category = x["who_category"]
        if category is None:
            expected = ("not_applicable", "not_applicable")
        elif row["on_treatment"] is True:
            expected = ("on_treatment", "on_treatment")
        else:
            expected = (_core(row, category, x["diagnostic_t_score"], x["risk_factor_count"]),
                        _bhof(row, category))
        assert (x["treatment"], y["treatment"]) == expected, row
        for assessment in (x, y):
            therapy = assessment["treatment"] in ("recommended", "consider")
            assert (assessment["first_line_therapy"] is not None) is therapy
