"""Every threshold on both sides of its boundary (clinical-rules.md sections 1-6)."""

from __future__ import annotations

import datetime as dt

import pytest
from oracle import decide_one
from rules_helpers import assess, assess_worked, flag_codes, frame, worked

from transforms.rules.decide import decide

BASE = ["BASIS-WHO", "SITE-LOWEST"]
TAIL_OSTEOPENIA = ["MON-UNTREATED", "LIFESTYLE"]


@pytest.mark.parametrize(
    ("t", "category", "rule"),
    [
        (-2.6, "osteoporosis", "WHO-OSTEOPOROSIS"),
        (-2.5, "osteoporosis", "WHO-OSTEOPOROSIS"),
        (-2.49, "osteopenia", "WHO-OSTEOPENIA"),
        (-1.01, "osteopenia", "WHO-OSTEOPENIA"),
        (-1.0, "normal", "WHO-NORMAL"),
        (-0.99, "normal", "WHO-NORMAL"),
    ],
)
def test_who_t_cutoffs(core, t: float, category: str, rule: str) -> None:
    row = assess_worked(core, femoral_neck_t=t)
    assert row["who_category"] == category
    assert rule in row["reasons"]


def test_osteoporosis_decision(core) -> None:
    row = assess_worked(core, femoral_neck_t=-2.5)
    assert row["treatment"] == "recommended"
    assert row["reasons"] == [*BASE, "WHO-OSTEOPOROSIS", "TX-OSTEOPOROSIS", "MON-TREATED",
                              "LIFESTYLE"]
    assert row["next_dxa_due"] == dt.date(2026, 3, 14)


def test_normal_decision(core) -> None:
    row = assess_worked(core, femoral_neck_t=-1.0)
    assert row["treatment"] == "not_indicated"
    assert row["reasons"] == [*BASE, "WHO-NORMAL", "TX-NORMAL", "MON-NORMAL"]
    assert row["next_dxa_due"] is None  # core-2025: no interval for normal BMD
    assert row["lifestyle"] == []


@pytest.mark.parametrize("t", [-1.6, -1.5])
def test_vertebral_fracture_at_any_t(core, t: float) -> None:
    """Version 3: no T limit (version 2: T <= -1.6); FRAX recorded, so the risk features
    do not decide a second time."""
    row = assess_worked(core, femoral_neck_t=t, vertebral_fracture=True)
    assert row["treatment"] == "recommended"
    assert row["reasons"] == [*BASE, "WHO-OSTEOPENIA", "RF-VERTEBRAL-FX", "TX-VERTEBRAL-FX",
                              "MON-TREATED", "LIFESTYLE"]


@pytest.mark.parametrize(
    ("ruleset_name", "hip", "major", "treatment", "rule"),
    [
        ("core", 3.0, 9.0, "consider", "TX-FRAX-HIGH"),
        ("core", 2.9, 9.0, "not_indicated", "TX-LOW-RISK"),
        ("core", 1.2, 20.0, "consider", "TX-FRAX-HIGH"),
        ("core", 1.2, 19.9, "not_indicated", "TX-LOW-RISK"),
        ("core", 3.0, None, "consider", "TX-FRAX-HIGH"),
        ("core", 2.9, None, "needs_risk_assessment", "TX-FRAX-MISSING"),
        ("bhof", 3.0, 9.0, "recommended", "BHOF-FRAX-HIGH"),
        ("bhof", 2.9, 9.0, "not_indicated", "BHOF-LOW-RISK"),
        ("bhof", 1.2, 20.0, "recommended", "BHOF-FRAX-HIGH"),
        ("bhof", 1.2, 19.9, "not_indicated", "BHOF-LOW-RISK"),
    ],
)
def test_frax_thresholds(
    request, ruleset_name: str, hip, major, treatment: str, rule: str
) -> None:
    """Each ruleset's FRAX thresholds (core: hip 3 / major 20, consider; BHOF: hip 3 /
    major 20, recommended), on both sides of each."""
    row = assess_worked(request.getfixturevalue(ruleset_name), frax_hip_pct=hip,
                        frax_major_pct=major)
    assert row["treatment"] == treatment
    monitoring = "MON-TREATED" if treatment == "recommended" else "MON-UNTREATED"
    assert row["reasons"] == [*BASE, "WHO-OSTEOPENIA", rule, monitoring, "LIFESTYLE"]


@pytest.mark.parametrize(
    ("fields", "fires"),
    [
        ({"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 3.0}, True),
        ({"glucocorticoid_mg_day": 7.4, "glucocorticoid_months": 3.0}, False),
        ({"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 2.9}, False),
        ({"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": None}, False),
    ],
)
def test_glucocorticoid(core, fields: dict, fires: bool) -> None:
    row = assess_worked(core, **fields)
    assert row["high_risk_features"] == (["RF-GLUCOCORTICOID"] if fires else [])
    # FRAX recorded: the feature adjusts it (9% -> 10.35%, 1.2% -> 1.44%, still low)
    # instead of deciding a second time (version 3).
    assert row["treatment"] == "not_indicated"
    if fires:  # MON-GLUCOCORTICOID gives the same 24-month date: both are reasons
        # 7.5 mg/day is also ISCD's VFA criterion (>= 5 mg/day) at T < -1.0
        assert row["reasons"] == [*BASE, "WHO-OSTEOPENIA", "RF-GLUCOCORTICOID",
                                  "GC-LONG-TERM", "FRAX-ADJ-GLUCOCORTICOID", "TX-LOW-RISK",
                                  "VFA-ISCD-2019", "MON-UNTREATED", "MON-GLUCOCORTICOID",
                                  "LIFESTYLE"]
        assert (row["frax_major_adjusted"], row["frax_hip_adjusted"]) == (10.35, 1.44)


#: Every other risk input recorded, so only the glucocorticoid inputs can be listed.
RECORDED = {"prior_fragility_fracture": False, "parent_hip_fracture": False,
            "height_loss_cm": 0.0, "vertebral_fracture": False, "bmi": 24.0,
            "current_smoker": False, "alcohol_units_day": 0.0}


def _incomplete_details(ruleset, **fields) -> tuple[list[str], list[str]]:
    """RISK_FACTORS_INCOMPLETE details from the engine and from the oracle."""
    row = worked(**{**RECORDED, **fields})
    engine = decide(frame([row]), ruleset).flags
    oracle = decide_one(row, ruleset)[1]
    return (
        engine.filter(code="RISK_FACTORS_INCOMPLETE")["detail"].to_list(),
        [f["detail"] for f in oracle if f["code"] == "RISK_FACTORS_INCOMPLETE"],
    )


@pytest.mark.parametrize(
    ("ruleset_name", "mg", "months", "listed"),
    [
        # dose known below the limit: the missing duration cannot change RF-GLUCOCORTICOID
        ("core", 7.4, None, []),
        ("core", 0.0, None, []),
        ("core", 7.5, None, ["glucocorticoid_months"]),
        # duration known below the limit: the missing dose cannot change it either
        ("core", None, 2.9, []),
        ("core", None, 0.0, []),
        ("core", None, 3.0, ["glucocorticoid_mg_day"]),
        ("core", None, None, ["glucocorticoid_mg_day", "glucocorticoid_months"]),
        # the limits come from the ruleset (test-lenient: 5 mg/day, 6 months)
        ("lenient", None, 5.9, []),
        ("lenient", None, 6.0, ["glucocorticoid_mg_day"]),
        ("lenient", 4.9, None, []),
        ("lenient", 5.0, None, ["glucocorticoid_months"]),
    ],
)
def test_glucocorticoid_not_recorded_is_symmetric(request, ruleset_name: str, mg, months,
                                                  listed: list[str]) -> None:
    """RISK_FACTORS_INCOMPLETE lists a glucocorticoid input only when RF-GLUCOCORTICOID
    could still fire: one input recorded below its limit settles it either way."""
    ruleset = request.getfixturevalue(ruleset_name)
    expected = [f"not recorded: {', '.join(listed)}"] if listed else []
    engine, oracle = _incomplete_details(
        ruleset, glucocorticoid_mg_day=mg, glucocorticoid_months=months
    )
    assert engine == expected
    assert oracle == expected


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("bmi", 18.9, "RF-LOW-BMI"),
        ("bmi", 19.0, None),
        ("alcohol_units_day", 3.0, "RF-ALCOHOL"),
        ("alcohol_units_day", 2.9, None),
        ("height_loss_cm", 4.1, "RF-HEIGHT-LOSS"),
        ("height_loss_cm", 4.0, None),
        ("current_smoker", True, "RF-SMOKING"),
        ("current_smoker", None, None),
        ("vertebral_fracture", True, "RF-VERTEBRAL-FX"),
        ("prior_fragility_fracture", None, None),
    ],
)
def test_single_feature_boundaries(core, field: str, value, rule: str | None) -> None:
    row = assess_worked(core, **{field: value})
    assert row["high_risk_features"] == ([rule] if rule else [])
    assert row["risk_factor_count"] == (1 if rule else 0)


def test_alcohol_and_smoking_lifestyle(core) -> None:
    row = assess_worked(core, alcohol_units_day=3.0, current_smoker=True)
    assert row["lifestyle"][-2:] == ["smoking_cessation", "alcohol_reduction"]
    assert assess_worked(core, alcohol_units_day=2.9)["lifestyle"][-1] == "vitamin_d_800_1000iu"


@pytest.mark.parametrize(
    ("loss", "kyphosis", "back_pain", "vfa"),
    [(4.1, None, None, True), (4.0, None, None, False), (None, True, None, True),
     (None, None, True, True), (None, False, False, False)],
)
def test_vfa(core, loss, kyphosis, back_pain, vfa: bool) -> None:
    row = assess_worked(core, height_loss_cm=loss, kyphosis=kyphosis, back_pain=back_pain)
    assert row["vfa_recommended"] is vfa
    assert ("VFA-INDICATED" in row["reasons"]) is vfa


@pytest.mark.parametrize(
    ("parent_age", "fires"), [(59.0, True), (60.0, False), (None, True)]
)
def test_parent_hip_fracture_age(core, parent_age, fires: bool) -> None:
    row = assess_worked(core, parent_hip_fracture=True, parent_hip_fracture_age=parent_age)
    assert row["high_risk_features"] == (["RF-PARENT-HIP-FX"] if fires else [])


def test_parent_hip_fracture_not_recorded_never_fires(core) -> None:
    row = assess_worked(core, parent_hip_fracture=None, parent_hip_fracture_age=50.0)
    assert row["high_risk_features"] == []


@pytest.mark.parametrize(
    ("age", "smoker", "features"),
    [
        (65.0, True, ["RF-SMOKING", "RF-AGE65-PLUS"]),
        (64.0, True, ["RF-SMOKING"]),
        (65.0, False, []),
    ],
)
def test_age65_plus(core, age: float, smoker: bool, features: list[str]) -> None:
    row = assess_worked(core, age_years=age, current_smoker=smoker)
    assert row["high_risk_features"] == features
    assert row["risk_factor_count"] == len(features)


@pytest.mark.parametrize(
    ("z", "category", "rule", "workup"),
    [(-2.0, "below_expected_range", "Z-BELOW", True),
     (-1.9, "within_expected_range", "Z-WITHIN", False)],
)
def test_z_threshold(core, z: float, category: str, rule: str, workup: bool) -> None:
    row = assess(core, age_years=35.0, menopausal_status="pre", total_hip_t=-2.9,
                 total_hip_z=z)
    assert row["basis"] == "iscd_z_score"
    assert row["z_category"] == category
    assert row["who_category"] is None
    assert row["diagnostic_t_score"] is None
    assert row["diagnostic_site"] == "total_hip"
    assert row["treatment"] == "not_applicable"
    expected = ["BASIS-ISCD-Z", "SITE-LOWEST", rule]
    assert row["reasons"][:3] == expected
    assert row["secondary_cause_workup"] is workup
    assert ("WORKUP-LOW-Z" in row["reasons"]) is workup


def test_workup_low_z_on_who_basis(core) -> None:
    row = assess_worked(core, femoral_neck_z=-2.0)
    assert row["secondary_cause_workup"] is True
    assert row["reasons"] == [*BASE, "WHO-OSTEOPENIA", "TX-LOW-RISK", "WORKUP-LOW-Z",
                              *TAIL_OSTEOPENIA]


def test_workup_low_z_pediatric(core) -> None:
    row = assess(core, age_years=12.0, spine_z=-2.4)
    assert row["basis"] == "not_assessed"
    assert row["secondary_cause_workup"] is True
    assert row["reasons"] == ["BASIS-PEDIATRIC", "WORKUP-LOW-Z"]


@pytest.mark.parametrize(
    ("age", "basis", "reasons", "flags"),
    [
        (19.0, "not_assessed", ["BASIS-PEDIATRIC"], ["PEDIATRIC_NOT_ASSESSED"]),
        (19.9, "not_assessed", ["BASIS-PEDIATRIC"], ["PEDIATRIC_NOT_ASSESSED"]),
        (20.0, "iscd_z_score", ["BASIS-ISCD-Z", "SITE-LOWEST", "Z-WITHIN"], []),
    ],
)
def test_adult_age(core, age: float, basis: str, reasons: list[str], flags: list[str]) -> None:
    fields = {"age_years": age, "menopausal_status": "pre", "femoral_neck_t": -2.1,
              "femoral_neck_z": -1.0}
    row = assess(core, **fields)
    assert row["basis"] == basis
    assert row["treatment"] == "not_applicable"
    assert row["reasons"] == reasons
    assert [c for c in flag_codes(core, **fields) if c != "RISK_FACTORS_INCOMPLETE"] == flags


@pytest.mark.parametrize(
    ("age", "basis"), [(49.0, "iscd_z_score"), (49.9, "iscd_z_score"), (50.0, "who_t_score")]
)
def test_men_age_50(core, age: float, basis: str) -> None:
    row = assess(core, sex="M", age_years=age, menopausal_status=None, femoral_neck_t=-2.1,
                 femoral_neck_z=-1.0)
    assert row["basis"] == basis
    codes = flag_codes(core, sex="M", age_years=age, femoral_neck_t=-2.1, femoral_neck_z=-1.0)
    assert codes == ["RISK_FACTORS_INCOMPLETE"]  # men: no menopause assumption


def test_no_diagnostic_site(core) -> None:
    """Z basis (man of 49) with only a T-score: not assessed, flagged."""
    row = assess(core, sex="M", age_years=49.0, femoral_neck_t=-2.1)
    assert row["basis"] == "not_assessed"
    assert row["treatment"] == "not_applicable"
    assert row["reasons"] == ["BASIS-ISCD-Z"]
    codes = flag_codes(core, sex="M", age_years=49.0, femoral_neck_t=-2.1)
    assert codes == ["NO_DIAGNOSTIC_SITE", "RISK_FACTORS_INCOMPLETE"]


def test_monitoring_on_treatment_overrides_untreated_interval(core) -> None:
    row = assess_worked(core, on_treatment=True)
    assert row["treatment"] == "on_treatment"
    assert row["reasons"][-4:] == ["TX-LOW-RISK", "TX-ON-TREATMENT", "MON-TREATED",
                                   "LIFESTYLE"]
    assert row["next_dxa_due"] == dt.date(2026, 3, 14)


def test_monitoring_month_end_clamps(core) -> None:
    row = assess_worked(core, exam_date=dt.date(2024, 2, 29))
    assert row["next_dxa_due"] == dt.date(2026, 2, 28)
