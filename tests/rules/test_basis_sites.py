"""Basis rules (section 1) and diagnostic site selection (section 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from rules_helpers import assess, frame

from transforms.rules.decide import decide

SCORES = {"femoral_neck_t": -2.1, "femoral_neck_z": -1.0}


@pytest.mark.parametrize(
    ("status", "age", "basis", "assumed"),
    [
        ("pre", 55.0, "iscd_z_score", False),
        ("peri", 45.0, "who_t_score", False),
        ("post", 45.0, "who_t_score", False),
        ("unknown", 49.0, "iscd_z_score", True),
        ("unknown", 50.0, "who_t_score", True),
        (None, 49.0, "iscd_z_score", True),
        (None, 50.0, "who_t_score", True),
    ],
)
def test_menopause(core, status, age: float, basis: str, assumed: bool) -> None:
    decisions = decide(frame([_exam(menopausal_status=status, age_years=age)]), core)
    row = decisions.assessments.row(0, named=True)
    assert row["basis"] == basis
    assert ("MENO-ASSUMED" in row["reasons"]) is assumed
    meno = decisions.flags.filter(code="MENOPAUSE_ASSUMED")
    assert len(meno) == int(assumed)
    if assumed:
        assert meno["severity"][0] == "info"
        expected = "postmenopausal (age >= 50)" if age >= 50 else "premenopausal (age < 50)"
        assert meno["detail"][0] == f"menopausal status not recorded; assessed as {expected}"


def _exam(**fields):
    from rules_helpers import exam

    return exam(**{**SCORES, **fields})


def test_menopause_not_assumed_for_children(core) -> None:
    row = assess(core, age_years=15.0, menopausal_status=None, **SCORES)
    assert row["reasons"] == ["BASIS-PEDIATRIC"]


def test_pediatric_flag(core) -> None:
    flags = decide(frame([_exam(age_years=12.0)]), core).flags.filter(
        code="PEDIATRIC_NOT_ASSESSED"
    )
    assert flags.select("severity", "detail").row(0) == (
        "info",
        "age below 20: adult WHO T-score and ISCD Z-score criteria not applied",
    )


def test_lowest_t_wins(core) -> None:
    row = assess(core, spine_t=-1.2, total_hip_t=-2.6, femoral_neck_t=-2.0)
    assert (row["diagnostic_site"], row["diagnostic_t_score"]) == ("total_hip", -2.6)
    assert row["who_category"] == "osteoporosis"


@pytest.mark.parametrize(
    ("scores", "site"),
    [
        ({"spine_t": -2.0, "total_hip_t": -2.0, "femoral_neck_t": -2.0}, "spine"),
        ({"total_hip_t": -2.0, "femoral_neck_t": -2.0}, "total_hip"),
        ({"femoral_neck_t": -2.0, "radius_33_t": -2.0}, "femoral_neck"),
        ({"spine_t": -1.0, "radius_33_t": -1.0}, "spine"),
    ],
)
def test_tie_order(core, scores: dict, site: str) -> None:
    assert assess(core, **scores)["diagnostic_site"] == site


def test_radius_ignored_with_spine_and_hip(core) -> None:
    row = assess(core, spine_t=-1.2, femoral_neck_t=-1.5, radius_33_t=-3.0)
    assert row["diagnostic_site"] == "femoral_neck"
    assert "SITE-RADIUS" not in row["reasons"]


@pytest.mark.parametrize(
    "scores",
    [
        {"femoral_neck_t": -1.5, "radius_33_t": -3.0},  # no spine
        {"spine_t": -1.2, "radius_33_t": -3.0},  # no hip
        {"radius_33_t": -3.0},  # radius only
        {"spine_t": -1.2, "spine_vertebrae": 1, "total_hip_t": -1.5, "radius_33_t": -3.0},
    ],
)
def test_radius_admitted(core, scores: dict) -> None:
    row = assess(core, **scores)
    assert row["diagnostic_site"] == "radius_33"
    assert row["diagnostic_t_score"] == -3.0
    assert row["reasons"][:4] == ["BASIS-WHO", "SITE-LOWEST", "SITE-RADIUS",
                                  *(["SITE-SPINE-MIN2"] if "spine_vertebrae" in scores
                                    else ["WHO-OSTEOPOROSIS"])]


def test_spine_with_one_vertebra(core) -> None:
    decisions = decide(frame([_exam(spine_t=-3.0, spine_vertebrae=1)]), core)
    row = decisions.assessments.row(0, named=True)
    assert row["diagnostic_site"] == "femoral_neck"
    assert row["diagnostic_t_score"] == -2.1
    assert row["reasons"][:3] == ["BASIS-WHO", "SITE-LOWEST", "SITE-SPINE-MIN2"]
    flag = decisions.flags.filter(code="SPINE_TOO_FEW_VERTEBRAE")
    assert flag.select("severity", "detail").row(0) == (
        "warning",
        "lumbar spine result on fewer than 2 vertebrae is not used for diagnosis",
    )


@pytest.mark.parametrize(("vertebrae", "site"), [(2, "spine"), (None, "spine"), (1, None)])
def test_spine_min_vertebrae(core, vertebrae, site) -> None:
    row = assess(core, spine_t=-3.0, spine_vertebrae=vertebrae)
    assert row["diagnostic_site"] == site
    if site is None:
        assert row["basis"] == "not_assessed"
        assert row["reasons"] == ["BASIS-WHO", "SITE-SPINE-MIN2"]


def test_z_basis_uses_lowest_valid_z(core) -> None:
    row = assess(core, sex="M", age_years=40.0, spine_z=-1.0, total_hip_z=-2.2,
                 femoral_neck_z=-2.2, spine_t=-3.0)
    assert row["basis"] == "iscd_z_score"
    assert (row["diagnostic_site"], row["diagnostic_z_score"]) == ("total_hip", -2.2)
    assert row["diagnostic_t_score"] is None
    assert row["z_category"] == "below_expected_range"
    assert row["reasons"] == ["BASIS-ISCD-Z", "SITE-LOWEST", "Z-BELOW", "WORKUP-LOW-Z"]
    assert row["first_line_therapy"] is None
    assert row["next_dxa_due"] is None
    assert row["lifestyle"] == []


def test_z_basis_reports_features_without_treatment(core) -> None:
    row = assess(core, sex="M", age_years=40.0, femoral_neck_z=-1.0,
                 prior_fragility_fracture=True, on_treatment=True)
    assert row["high_risk_features"] == ["RF-FRAGILITY-FX"]
    assert row["treatment"] == "not_applicable"
    # A fracture on the Z basis reaches a list: workup, a flag and a 24-month date (the
    # 12-month MON-TREATED date is earlier and wins; both lines are reasons).
    assert row["reasons"] == ["BASIS-ISCD-Z", "SITE-LOWEST", "Z-WITHIN", "RF-FRAGILITY-FX",
                              "WORKUP-Z-FRACTURE", "MON-TREATED", "MON-Z-FRACTURE"]
    assert row["secondary_cause_workup"] is True
    assert row["next_dxa_due"] == dt.date(2026, 3, 14)
