"""Properties that must hold for any exams (hypothesis)."""

from __future__ import annotations

import math
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


#: Section 4 (core-2025), 4a, 4b and section 5 (bhof-2022) thresholds, from the spec, not
#: from the ruleset files: the property checks that the files say what the spec says.
FRAX_HIP, FRAX_MAJOR = 3.0, 20.0
VHR_T, VHR_MAJOR, VHR_HIP = -3.0, 30.0, 4.5
OTHER_LOW_BMD = {"humerus", "pelvis", "forearm"}


def _at_least(value: float | None, limit: float) -> bool:
    return value is not None and round(value, 6) >= limit


def _steroid(row: dict[str, Any]) -> bool:
    mg, months = row["glucocorticoid_mg_day"], row["glucocorticoid_months"]
    return mg is not None and months is not None and mg >= 7.5 and months >= 3


def _adjusted(row: dict[str, Any]) -> tuple[float | None, float | None]:
    """Section 4a: (major, hip) after the glucocorticoid and spine-hip adjustments."""
    major, hip = row["frax_major_pct"], row["frax_hip_pct"]
    if _steroid(row):
        major = None if major is None else major * 1.15
        hip = None if hip is None else hip * 1.20
    spine_valid = (row["spine_t"] is not None or row["spine_z"] is not None) and (
        row["spine_vertebrae"] or 4) >= 2
    neck, spine = row["femoral_neck_t"], row["spine_t"]
    if major is not None and spine_valid and neck is not None and spine is not None:
        offset = round(neck - spine, 6)
        if offset >= 0.5:
            major *= 1 + 0.1 * math.floor(offset + 0.5)
    return major, hip


def _very_high_risk(row: dict[str, Any], t: float) -> bool:
    """Section 4b (no treatment-course or history columns in these rows)."""
    major, hip = _adjusted(row)
    sites = set(row["prior_fracture_sites"] or [])
    if row["vertebral_fracture"] is True:
        sites.add("vertebral")
    return (round(t, 6) < VHR_T or (major is not None and round(major, 6) > VHR_MAJOR)
            or (hip is not None and round(hip, 6) > VHR_HIP) or len(sites) >= 2
            or (row["prior_fragility_fracture"] is True and _steroid(row)))


def _core_lines(row: dict[str, Any], category: str, features: int) -> str:
    """Section 4: the first matching line of core-2025 (not on treatment, WHO basis)."""
    fracture, vf = row["prior_fragility_fracture"] is True, row["vertebral_fracture"] is True
    major, hip = _adjusted(row)
    osteopenia = category == "osteopenia"
    frax_missing = hip is None or major is None
    if fracture or category == "osteoporosis" or vf:
        return "recommended"
    if osteopenia and (_at_least(hip, FRAX_HIP) or _at_least(major, FRAX_MAJOR)
                       or (frax_missing and features > 0)):
        return "consider"
    if osteopenia and frax_missing:
        return "needs_risk_assessment"
    return "not_indicated"


def _bhof_lines(row: dict[str, Any], category: str) -> str:
    """Section 5: the first matching line of bhof-2022 (not on treatment, WHO basis)."""
    sites = set(row["prior_fracture_sites"] or [])
    fracture, vf = row["prior_fragility_fracture"] is True, row["vertebral_fracture"] is True
    major, hip = _adjusted(row)
    osteopenia = category == "osteopenia"
    if sites & {"hip", "vertebral"} or vf or (fracture and not sites):
        return "recommended"
    if category == "osteoporosis":
        return "recommended"
    if osteopenia and (_at_least(hip, FRAX_HIP) or _at_least(major, FRAX_MAJOR)):
        return "recommended"
    if osteopenia and sites & OTHER_LOW_BMD:
        return "consider"
    if osteopenia and (hip is None or major is None):
        return "needs_risk_assessment"
    return "not_indicated"  # an `other` site matches no fracture line


def _core(row: dict[str, Any], category: str, t: float, features: int) -> str:
    """core-2025's line, escalated by very high risk (section 4b)."""
    return "recommended" if _very_high_risk(row, t) else _core_lines(row, category, features)


def _bhof(row: dict[str, Any], category: str, t: float) -> str:
    """bhof-2022's line, escalated by very high risk (section 4b)."""
    return "recommended" if _very_high_risk(row, t) else _bhof_lines(row, category)


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
                        _bhof(row, category, x["diagnostic_t_score"]))
        assert (x["treatment"], y["treatment"]) == expected, row
        for assessment in (x, y):
            therapy = assessment["treatment"] in ("recommended", "consider")
            assert (assessment["first_line_therapy"] is not None) is therapy
