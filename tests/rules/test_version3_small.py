"""Clinical rules version 3, sections 1, 3 and 6: MENO-UNKNOWN-LOW-BMD, GC-LONG-TERM and
the rules that read it (MON-GLUCOCORTICOID, LIFESTYLE, GC-RISK-REVIEW), VFA-ISCD-2019;
each on both sides of every bound, through `decide`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rules_helpers import assess, frame, worked

from transforms.rules.decide import decide
from transforms.rules.ruleset import RulesetError, load_ruleset

IN_24 = dt.date(2027, 3, 14)
ADVICE = ["weight_bearing_exercise", "fall_prevention", "calcium_1000_1200mg",
          "vitamin_d_800_1000iu"]


def _flags(ruleset, **fields) -> dict[str, tuple[str, str]]:
    """code -> (severity, detail) of the flags one exam raises."""
    found = decide(frame([worked(**fields)]), ruleset).flags
    return {row["code"]: (row["severity"], row["detail"]) for row in found.iter_rows(named=True)}


def _decided(ruleset, **fields) -> dict:
    return decide(frame([worked(**fields)]), ruleset).assessments.row(0, named=True)


# --- MENO-UNKNOWN-LOW-BMD (section 1) ----------------------------------------------------

#: A woman whose menopausal status was not recorded, with a Z-score (the Z basis below 50).
UNKNOWN = {"menopausal_status": None, "femoral_neck_z": -1.0}


@pytest.mark.parametrize(
    ("age", "t", "fires"),
    [
        (39.0, -3.0, False), (40.0, -3.0, True),  # lower age bound
        (49.0, -3.0, True), (49.9, -3.0, True), (50.0, -3.0, False),  # upper age bound
        (45.0, -2.5, True), (45.0, -2.499999, False),  # the T cut, inclusive
        (45.0, -2.4999999999999996, True),  # a computed -2.5 counts as the cut (6 decimals)
    ],
)
def test_meno_unknown_low_bmd_bounds(core, age: float, t: float, fires: bool) -> None:
    row = _decided(core, age_years=age, femoral_neck_t=t, **UNKNOWN)
    assert ("MENO-UNKNOWN-LOW-BMD" in row["reasons"]) is fires
    flags = _flags(core, age_years=age, femoral_neck_t=t, **UNKNOWN)
    assert ("MENOPAUSE_UNKNOWN_LOW_BMD" in flags) is fires
    if fires:
        severity, detail = flags["MENOPAUSE_UNKNOWN_LOW_BMD"]
        assert severity == "warning"
        assert detail == ("menopausal status not recorded and a valid site with T <= -2.5: on "
                          "the WHO basis this would read as osteoporosis; confirm the status")
        assert "MENOPAUSE_ASSUMED" in flags  # the assumed status is still said


@pytest.mark.parametrize("status", ["unknown", "something else"])
def test_meno_unknown_low_bmd_status_unknown_or_unrecognised(core, status: str) -> None:
    row = _decided(core, age_years=45.0, femoral_neck_t=-2.6, femoral_neck_z=-1.0,
                   menopausal_status=status)
    assert "MENO-UNKNOWN-LOW-BMD" in row["reasons"]
    assert row["basis"] == "iscd_z_score"  # assumed premenopausal: the flag changes nothing


@pytest.mark.parametrize("status", ["pre", "peri", "post"])
def test_meno_unknown_low_bmd_not_for_a_recorded_status(core, status: str) -> None:
    row = _decided(core, age_years=45.0, femoral_neck_t=-2.6, femoral_neck_z=-1.0,
                   menopausal_status=status)
    assert "MENO-UNKNOWN-LOW-BMD" not in row["reasons"]


def test_meno_unknown_low_bmd_not_for_men_and_only_on_valid_sites(core) -> None:
    man = _decided(core, sex="M", age_years=45.0, femoral_neck_t=-3.0, **UNKNOWN)
    assert "MENO-UNKNOWN-LOW-BMD" not in man["reasons"]
    # a spine on one vertebra is not a valid site: its T does not count
    one_vertebra = _decided(core, age_years=45.0, femoral_neck_t=-1.0, spine_t=-3.0,
                            spine_vertebrae=1, **UNKNOWN)
    assert "MENO-UNKNOWN-LOW-BMD" not in one_vertebra["reasons"]


def test_meno_unknown_low_bmd_ages_come_from_the_ruleset(lenient) -> None:
    """test-lenient: 35 <= age < 45, T <= -3.0 (its osteoporosis cut)."""
    for age, t, fires in ((34.0, -3.0, False), (35.0, -3.0, True), (44.0, -3.0, True),
                          (45.0, -3.0, False), (40.0, -2.9, False)):
        row = _decided(lenient, age_years=age, femoral_neck_t=t, **UNKNOWN)
        assert ("MENO-UNKNOWN-LOW-BMD" in row["reasons"]) is fires, (age, t)


# --- GC-LONG-TERM and MON-GLUCOCORTICOID (sections 3 and 6) --------------------------------

@pytest.mark.parametrize(
    ("mg", "months", "fires"),
    [(2.5, 3.0, True), (2.4, 3.0, False), (2.5, 2.9, False), (2.5, None, False),
     (None, 3.0, False)],
)
def test_gc_long_term_bounds_at_normal_bmd(core, mg, months, fires: bool) -> None:
    """Normal BMD (T -0.5), not treated: only GC-LONG-TERM gives a date and advice."""
    row = _decided(core, femoral_neck_t=-0.5, glucocorticoid_mg_day=mg,
                   glucocorticoid_months=months)
    assert ("GC-LONG-TERM" in row["reasons"]) is fires
    assert row["high_risk_features"] == []  # not a feature: never counted
    assert row["risk_factor_count"] == 0
    assert row["next_dxa_due"] == (IN_24 if fires else None)
    assert [r for r in row["reasons"] if r.startswith("MON-")] == (
        ["MON-GLUCOCORTICOID"] if fires else ["MON-NORMAL"])
    assert row["lifestyle"] == (ADVICE if fires else [])
    assert ("LIFESTYLE" in row["reasons"]) is fires


def test_gc_long_term_on_any_basis(core) -> None:
    """Z basis, and not assessed (pediatric): MON-GLUCOCORTICOID and LIFESTYLE still apply."""
    gc = {"glucocorticoid_mg_day": 2.5, "glucocorticoid_months": 3.0}
    z_basis = assess(core, sex="M", age_years=30.0, femoral_neck_z=-0.5, **gc)
    child = assess(core, age_years=15.0, femoral_neck_z=-0.5, **gc)
    for row in (z_basis, child):
        assert row["next_dxa_due"] == IN_24
        assert row["lifestyle"] == ADVICE
        assert {"GC-LONG-TERM", "MON-GLUCOCORTICOID", "LIFESTYLE"} <= set(row["reasons"])


def test_lifestyle_adds_smoking_and_alcohol_advice_for_gc_long_term(core) -> None:
    row = _decided(core, femoral_neck_t=-0.5, glucocorticoid_mg_day=2.5,
                   glucocorticoid_months=3.0, current_smoker=True, alcohol_units_day=3.0)
    assert row["lifestyle"] == [*ADVICE, "smoking_cessation", "alcohol_reduction"]
    # no LIFESTYLE reason, no advice: smoking alone at normal BMD gives none
    assert _decided(core, femoral_neck_t=-0.5, current_smoker=True)["lifestyle"] == []


def test_mon_glucocorticoid_switched_off(lenient) -> None:
    """test-lenient sets no glucocorticoid interval: GC-LONG-TERM still advises."""
    row = _decided(lenient, femoral_neck_t=-0.5, glucocorticoid_mg_day=2.0,
                   glucocorticoid_months=6.0)
    assert "GC-LONG-TERM" in row["reasons"]
    assert "MON-GLUCOCORTICOID" not in row["reasons"]
    assert row["lifestyle"] == ADVICE


# --- GC-RISK-REVIEW (section 6) -------------------------------------------------------------

GC_LONG = {"glucocorticoid_mg_day": 2.5, "glucocorticoid_months": 3.0}


@pytest.mark.parametrize(("age", "fires"), [(39.0, False), (40.0, True), (49.0, True)])
def test_gc_risk_review_age_bound(core, age: float, fires: bool) -> None:
    """A man under 50 is on the Z basis."""
    fields = {"sex": "M", "age_years": age, "femoral_neck_t": -1.5, **GC_LONG}
    flags = _flags(core, **fields)
    assert ("GLUCOCORTICOID_RISK_REVIEW" in flags) is fires
    assert ("GC-RISK-REVIEW" in _decided(core, **fields)["reasons"]) is fires
    if fires:
        assert flags["GLUCOCORTICOID_RISK_REVIEW"] == (
            "warning", "long-term glucocorticoids (>= 2.5 mg/day for >= 3 months) on the "
            "Z-score basis: ACR 2022 assesses fracture risk from age 40, which the Z basis "
            "does not")


@pytest.mark.parametrize(
    ("fields", "fires"),
    [
        ({"glucocorticoid_mg_day": 2.4, "glucocorticoid_months": 3.0}, False),
        ({"glucocorticoid_mg_day": 2.5, "glucocorticoid_months": 2.9}, False),
        ({"sex": "F", "menopausal_status": "pre"}, True),  # a premenopausal woman
        ({"sex": "M", "age_years": 50.0}, False),  # a man of 50 is on the WHO basis
        ({"sex": "F", "menopausal_status": "post"}, False),  # WHO basis
        ({"femoral_neck_z": None}, True),  # Z basis without a Z-score: still reviewed
    ],
)
def test_gc_risk_review_needs_z_basis_and_long_term_use(core, fields: dict,
                                                        fires: bool) -> None:
    base = {"sex": "M", "age_years": 45.0, "femoral_neck_t": -1.5, **GC_LONG}
    assert ("GLUCOCORTICOID_RISK_REVIEW" in _flags(core, **{**base, **fields})) is fires


# --- VFA-ISCD-2019 (section 6) --------------------------------------------------------------

#: Osteopenia (T -1.5) with no VFA-INDICATED input and no glucocorticoids.
QUIET = {"femoral_neck_t": -1.5, "height_loss_cm": 0.0, "kyphosis": False,
         "back_pain": False, "glucocorticoid_mg_day": 0.0, "glucocorticoid_months": 0.0}


def _vfa(core, **fields) -> tuple[bool, bool]:
    """(vfa_recommended, VFA-ISCD-2019 among the reasons)."""
    row = _decided(core, **{**QUIET, **fields})
    return row["vfa_recommended"], "VFA-ISCD-2019" in row["reasons"]


@pytest.mark.parametrize(
    ("fields", "fires"),
    [
        ({"age_years": 69.0}, False), ({"age_years": 70.0}, True),  # women
        ({"sex": "M", "age_years": 79.0}, False), ({"sex": "M", "age_years": 80.0}, True),
        ({"height_loss_cm": 4.0}, False), ({"height_loss_cm": 4.1}, True),
        ({"glucocorticoid_mg_day": 4.9, "glucocorticoid_months": 3.0}, False),
        ({"glucocorticoid_mg_day": 5.0, "glucocorticoid_months": 3.0}, True),
        ({"glucocorticoid_mg_day": 5.0, "glucocorticoid_months": 2.0}, False),
        ({"glucocorticoid_mg_day": 5.0, "glucocorticoid_months": None}, False),
        ({"prior_fracture_sites": ["vertebral"], "prior_fragility_fracture": True}, True),
        ({"prior_fracture_sites": ["vertebral"], "prior_fragility_fracture": True,
          "vertebral_fracture": False}, False),  # the radiographic answer is recorded
        ({"prior_fracture_sites": ["hip"], "prior_fragility_fracture": True}, False),
    ],
)
def test_vfa_iscd_criteria(core, fields: dict, fires: bool) -> None:
    assert _vfa(core, **fields) == (fires, fires)


@pytest.mark.parametrize(("t", "fires"), [(-1.0, False), (-1.000001, True), (-3.0, True)])
def test_vfa_iscd_t_bound(core, t: float, fires: bool) -> None:
    assert _vfa(core, age_years=75.0, femoral_neck_t=t) == (fires, fires)


def test_vfa_iscd_only_on_the_who_basis(core) -> None:
    # a premenopausal woman of 72 (Z basis) and a man of 85 without a T-score
    assert _vfa(core, age_years=72.0, menopausal_status="pre", femoral_neck_z=-1.0) == (
        False, False)
    assert _vfa(core, sex="M", age_years=85.0, femoral_neck_t=None,
                femoral_neck_z=-1.0) == (False, False)


def test_vfa_indicated_and_iscd_both_reasons(core) -> None:
    row = _decided(core, **{**QUIET, "age_years": 70.0, "kyphosis": True})
    assert row["vfa_recommended"] is True
    assert [r for r in row["reasons"] if r.startswith("VFA-")] == [
        "VFA-INDICATED", "VFA-ISCD-2019"]


# --- the ruleset keys ------------------------------------------------------------------------

CORE_TEXT = (Path(__file__).parents[2] / "rulesets" / "core-2025.toml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("meno_unknown_low_bmd_below_age = 50", "meno_unknown_low_bmd_below_age = 40",
         "basis.meno_unknown_low_bmd_below_age: must be greater than "
         "basis.meno_unknown_low_bmd_from_age (MENO-UNKNOWN-LOW-BMD could never fire)"),
        ("long_term_glucocorticoid_mg_day = 2.5", "long_term_glucocorticoid_mg_day = 0",
         "risk.long_term_glucocorticoid_mg_day: must be a number greater than 0 and at most "
         "1000"),
        ("glucocorticoid_review_age = 40", "glucocorticoid_review_age = -1",
         "risk.glucocorticoid_review_age: must be a number between 0 and 130"),
        ("women_age = 70", 'women_age = "70"', "vfa.women_age: must be a number between 0 and "
         "130"),
        ("[vfa]", "[vertebral]", "vertebral: unknown key"),
        ("men_age = 80\n", "", "vfa.men_age: missing key"),
    ],
)
def test_new_keys_are_validated(tmp_path, old: str, new: str, message: str) -> None:
    assert old in CORE_TEXT
    path = tmp_path / "core-2025.toml"
    path.write_text(CORE_TEXT.replace(old, new, 1))
    with pytest.raises(RulesetError) as caught:
        load_ruleset(path)
    assert str(caught.value) == f"{path}: {message}"
