"""Hand-computed vignettes from clinical-rules.md version 3, asserted against the oracle
alone (tests/rules/oracle.py): the oracle must be right before the engine is compared
with it. Each expected value is worked out from the spec text in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from oracle import ORAL, SPECIALIST, add_months, decide_one, decide_patient, round_half_up

from schemas.columns import CANONICAL_COLUMNS

DAY = dt.date(2025, 3, 14)
LIFESTYLE = ["weight_bearing_exercise", "fall_prevention", "calcium_1000_1200mg",
             "vitamin_d_800_1000iu"]
GC = {"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 3.0}
LOW_FRAX = {"frax_major_pct": 9.0, "frax_hip_pct": 1.2}


def exam(**fields: Any) -> dict[str, Any]:
    """A canonical exam dict (nulls unless given): woman, 62, postmenopausal."""
    row: dict[str, Any] = dict.fromkeys([*CANONICAL_COLUMNS, "prior_fracture_sites"])
    row.update(exam_id="E1", patient_id="P1", exam_date=DAY, sex="F", age_years=62.0,
               menopausal_status="post")
    row.update(fields)
    return row


def article(**changes: Any) -> dict[str, Any]:
    """Section 8's woman: 62, postmenopausal, neck T -2.1 / Z -1.0, no fracture, no
    glucocorticoids, non-smoker, BMI 24, FRAX 9% / 1.2%."""
    return exam(**{"femoral_neck_t": -2.1, "femoral_neck_z": -1.0,
                   "prior_fragility_fracture": False, "glucocorticoid_mg_day": 0.0,
                   "current_smoker": False, "bmi": 24.0, **LOW_FRAX, **changes})


def man(**fields: Any) -> dict[str, Any]:
    """A man of 72 (CAROC row 70: -2.3 / -3.7) scanned on a Hologic."""
    return exam(**{"sex": "M", "age_years": 72.0, "menopausal_status": None,
                   "scanner_manufacturer": "Hologic", **fields})


def neck_bmd(t: float) -> float:
    """The Hologic femoral neck BMD whose NHANES III T-score is t (0.858 + 0.120 t)."""
    return round(0.858 + 0.120 * t, 6)


def one(row: dict[str, Any], ruleset: str = "core-2025") -> dict[str, Any]:
    return decide_one(row, ruleset)[0]


def codes(row: dict[str, Any], ruleset: str = "core-2025") -> list[str]:
    return [f["code"] for f in decide_one(row, ruleset)[1]]


def patient(rows: list[dict[str, Any]], ruleset: str = "core-2025"
            ) -> list[tuple[dict[str, Any], list[str]]]:
    """Decide a patient's exams; (assessment, flag codes) per exam."""
    numbered = [{**r, "exam_id": f"E{i}"} for i, r in enumerate(rows, start=1)]
    return [(a, [f["code"] for f in fl]) for a, fl in decide_patient(numbered, ruleset)]


# ------------------------------------------------------------------ section 8


def test_article_case_core() -> None:
    a = one(article())
    assert a == {
        "exam_id": "E1", "ruleset": "core-2025@3", "basis": "who_t_score",
        "diagnostic_site": "femoral_neck", "diagnostic_t_score": -2.1,
        "diagnostic_z_score": -1.0, "who_category": "osteopenia", "z_category": None,
        "high_risk_features": [], "risk_factor_count": 0, "treatment": "not_indicated",
        "reasons": ["BASIS-WHO", "SITE-LOWEST", "WHO-OSTEOPENIA", "TX-LOW-RISK",
                    "MON-UNTREATED", "LIFESTYLE"],
        "first_line_therapy": None, "secondary_cause_workup": False,
        "vfa_recommended": False, "next_dxa_due": dt.date(2027, 3, 14),
        "lifestyle": LIFESTYLE, "frax_major_adjusted": 9.0, "frax_hip_adjusted": 1.2,
        # row 60 (-2.3 / -3.7): -2.1 is above the first cut
        "caroc_risk": "low", "caroc_reasons": ["CAROC-BASAL"], "history_used": [],
    }


def test_article_case_without_frax_and_with_fracture() -> None:
    a = one(article(frax_major_pct=None, frax_hip_pct=None))
    assert (a["treatment"], a["frax_major_adjusted"]) == ("needs_risk_assessment", None)
    assert "TX-FRAX-MISSING" in a["reasons"] and "TX-RISK-FEATURES" not in a["reasons"]
    a = one(article(prior_fragility_fracture=True))
    assert a["treatment"] == "recommended" and "TX-FRAGILITY-FX" in a["reasons"]
    assert a["first_line_therapy"] == ORAL
    assert a["next_dxa_due"] == dt.date(2026, 3, 14)  # MON-TREATED


# ------------------------------------------------------------------ section 4 / 4a


def test_frax_hip_three_percent_is_consider_under_core() -> None:
    a = one(article(frax_hip_pct=3.0))  # version 3: hip >= 3%
    assert a["treatment"] == "consider" and "TX-FRAX-HIGH" in a["reasons"]
    assert one(article(frax_hip_pct=2.9))["treatment"] == "not_indicated"


def test_4a_glucocorticoid_worked_example() -> None:
    # 18.5 x 1.15 = 21.275; 2.6 x 1.20 = 3.12 -> consider under core-2025
    a = one(article(frax_major_pct=18.5, frax_hip_pct=2.6, glucocorticoid_mg_day=10.0,
                    glucocorticoid_months=12.0))
    assert a["frax_major_adjusted"] == pytest.approx(21.275)
    assert a["frax_hip_adjusted"] == pytest.approx(3.12)
    assert a["treatment"] == "consider"
    assert {"FRAX-ADJ-GLUCOCORTICOID", "TX-FRAX-HIGH"} <= set(a["reasons"])
    assert "FRAX-ADJ-SPINE-OFFSET" not in a["reasons"]


def test_4a_spine_offset_worked_example() -> None:
    # spine -2.4, neck -1.0: d = 1.4 -> 1; major 18.5 x 1.1 = 20.35; hip unchanged
    a = one(article(spine_t=-2.4, femoral_neck_t=-1.0, frax_major_pct=18.5,
                    frax_hip_pct=1.0))
    assert a["frax_major_adjusted"] == pytest.approx(20.35)
    assert a["frax_hip_adjusted"] == 1.0
    assert a["diagnostic_site"] == "spine" and a["treatment"] == "consider"
    assert "FRAX-ADJ-SPINE-OFFSET" in a["reasons"]
    assert "FRAX-ADJ-GLUCOCORTICOID" not in a["reasons"]


def test_4a_spine_offset_rounding() -> None:
    assert [round_half_up(x) for x in (0.5, 1.4, 1.5, 2.4999999999999996)] == [1, 1, 2, 3]
    # 0.49999999999999978 counts as the cut 0.5 (section 2): d = 1
    a = one(article(spine_t=-1.7, femoral_neck_t=-1.2, frax_major_pct=10.0))
    assert a["frax_major_adjusted"] == pytest.approx(11.0)
    a = one(article(spine_t=-1.6, femoral_neck_t=-1.2, frax_major_pct=10.0))  # 0.4
    assert a["frax_major_adjusted"] == 10.0 and "FRAX-ADJ-SPINE-OFFSET" not in a["reasons"]
    a = one(article(spine_t=-3.6, femoral_neck_t=-1.1, frax_major_pct=10.0))  # 2.5 -> 3
    assert a["frax_major_adjusted"] == pytest.approx(13.0)


def test_4a_adjustments_multiply_and_are_null_off_who_basis() -> None:
    a = one(article(spine_t=-2.4, femoral_neck_t=-1.0, frax_major_pct=10.0,
                    frax_hip_pct=None, **GC))
    assert a["frax_major_adjusted"] == pytest.approx(10.0 * 1.15 * 1.1)
    assert a["frax_hip_adjusted"] is None
    a = one(article(menopausal_status="pre", age_years=45.0))
    assert a["basis"] == "iscd_z_score"
    assert (a["frax_major_adjusted"], a["frax_hip_adjusted"]) == (None, None)
    assert (a["caroc_risk"], a["caroc_reasons"]) == (None, [])


def test_tx_risk_features_only_with_frax_missing() -> None:
    a = one(article(current_smoker=True, frax_major_pct=None, frax_hip_pct=None))
    assert a["treatment"] == "consider"
    assert {"TX-RISK-FEATURES", "TX-FRAX-MISSING", "RF-SMOKING"} <= set(a["reasons"])
    a = one(article(current_smoker=True, frax_hip_pct=None))  # one FRAX value missing
    assert a["treatment"] == "consider" and "TX-FRAX-MISSING" in a["reasons"]
    a = one(article(current_smoker=True))  # FRAX known and low: features do not decide
    assert a["treatment"] == "not_indicated"
    assert "TX-RISK-FEATURES" not in a["reasons"] and "TX-LOW-RISK" in a["reasons"]
    a = one(article(height_loss_cm=4.1, frax_major_pct=None, frax_hip_pct=None))
    assert a["treatment"] == "consider" and a["vfa_recommended"] is True


def test_vertebral_fracture_recommended_at_any_t() -> None:
    a, flags = decide_one(article(femoral_neck_t=0.0, vertebral_fracture=True), "core-2025")
    assert a["treatment"] == "recommended" and "TX-VERTEBRAL-FX" in a["reasons"]
    assert [f["severity"] for f in flags if f["code"] == "VERTEBRAL_FX_NORMAL_BMD"] == [
        "warning"]
    a, flags = decide_one(article(vertebral_fracture=True), "core-2025")
    assert a["treatment"] == "recommended"
    assert "VERTEBRAL_FX_NORMAL_BMD" not in [f["code"] for f in flags]


def test_on_treatment_and_no_indication() -> None:
    a, flags = decide_one(article(femoral_neck_t=-0.5, on_treatment=True), "core-2025")
    assert a["treatment"] == "on_treatment" and a["first_line_therapy"] is None
    assert {"TX-NORMAL", "TX-ON-TREATMENT", "MON-TREATED"} <= set(a["reasons"])
    assert [f["severity"] for f in flags if f["code"] == "ON_TREATMENT_NO_INDICATION"] == [
        "info"]


# ------------------------------------------------------------------ section 2 / TSCORE


def test_tscore_from_bmd_only_on_hologic() -> None:
    # 0.558 g/cm2 is exactly -2.5 on the NHANES III neck reference
    a, flags = decide_one(exam(femoral_neck_bmd=0.558, scanner_manufacturer="Hologic"),
                          "core-2025")
    assert (a["diagnostic_t_score"], a["who_category"]) == (-2.5, "osteoporosis")
    assert "T_SCORE_NOT_COMPUTED" not in [f["code"] for f in flags]
    for maker in (None, "GE Lunar"):
        a, flags = decide_one(exam(femoral_neck_bmd=0.558, scanner_manufacturer=maker),
                              "core-2025")
        assert a["basis"] == "not_assessed" and a["diagnostic_t_score"] is None
        got = [(f["code"], f["severity"]) for f in flags]
        assert ("T_SCORE_NOT_COMPUTED", "info") in got and ("NO_DIAGNOSTIC_SITE",
                                                            "warning") in got


def test_rounded_cut_offs() -> None:
    assert one(exam(femoral_neck_t=-2.4999999999999996))["who_category"] == "osteoporosis"
    assert one(exam(femoral_neck_t=-1.0000000000000002))["who_category"] == "normal"


# ------------------------------------------------------------------ section 5a: CAROC


@pytest.mark.parametrize(("t", "risk"), [
    (-2.2, "low"), (-2.3, "moderate"), (-3.0, "moderate"), (-3.7, "moderate"),
    (-3.8, "high"),
])
def test_caroc_basal_woman_row_60(t: float, risk: str) -> None:
    a = one(exam(femoral_neck_t=t, **LOW_FRAX))
    assert (a["caroc_risk"], a["caroc_reasons"]) == (risk, ["CAROC-BASAL"])


@pytest.mark.parametrize(("age", "t", "risk"), [
    (49.9, -3.0, None), (50.0, -2.5, "moderate"), (54.9, -2.4, "low"), (69.0, -3.5, "moderate"),
    (80.0, -0.5, "moderate"), (84.0, -0.4, "low"), (86.0, 0.1, "moderate"), (86.0, 0.2, "low"),
    (99.0, -2.3, "high"),
])
def test_caroc_age_rows_women(age: float, t: float, risk: str | None) -> None:
    assert one(exam(age_years=age, femoral_neck_t=t))["caroc_risk"] == risk


@pytest.mark.parametrize(("t", "risk"), [
    (-2.2, "low"), (-2.3, "moderate"), (-3.7, "moderate"), (-3.8, "high")])
def test_caroc_basal_man_row_70_from_hologic_bmd(t: float, risk: str) -> None:
    # the reported (male-reference) T-score is ignored: the female-reference T from BMD
    a = one(man(femoral_neck_bmd=neck_bmd(t), femoral_neck_t=0.5))
    assert (a["caroc_risk"], a["caroc_reasons"]) == (risk, ["CAROC-BASAL"])


def test_caroc_man_without_hologic_bmd_is_not_computed() -> None:
    for fields in ({"scanner_manufacturer": "GE Lunar", "femoral_neck_bmd": 0.6},
                   {"scanner_manufacturer": None, "femoral_neck_bmd": 0.6},
                   {"femoral_neck_bmd": None}):
        a = one(man(femoral_neck_t=-3.0, **fields), "oc-2010")
        assert (a["caroc_risk"], a["caroc_reasons"]) == (None, [])
        assert a["treatment"] == "needs_risk_assessment"
        assert {"OC-NOT-COMPUTABLE", "MON-CAROC"} <= set(a["reasons"])
        assert a["next_dxa_due"] == add_months(DAY, 24)


@pytest.mark.parametrize("sex", ["F", "M"])
def test_caroc_fx_gc_both(sex: str) -> None:
    base = (exam(femoral_neck_t=-2.1) if sex == "F"
            else man(femoral_neck_bmd=neck_bmd(-2.1)))  # low in both rows
    fx = {"prior_fragility_fracture": True}
    a = one({**base, **fx})
    assert (a["caroc_risk"], a["caroc_reasons"]) == ("moderate", ["CAROC-BASAL", "CAROC-FX"])
    a = one({**base, **GC})
    assert (a["caroc_risk"], a["caroc_reasons"]) == (
        "moderate", ["CAROC-BASAL", "CAROC-GLUCOCORTICOID"])
    a = one({**base, **fx, **GC})
    assert (a["caroc_risk"], a["caroc_reasons"]) == (
        "high", ["CAROC-BASAL", "CAROC-FX", "CAROC-GLUCOCORTICOID", "CAROC-BOTH"])
    # moderate + one step = high; high stays high (capped)
    mid = {**base, "femoral_neck_t": -3.0} if sex == "F" else {
        **base, "femoral_neck_bmd": neck_bmd(-3.0)}
    assert one({**mid, **fx})["caroc_risk"] == "high"


@pytest.mark.parametrize("sex", ["F", "M"])
def test_caroc_spine_hip(sex: str) -> None:
    base = (exam(femoral_neck_t=-2.1) if sex == "F"
            else man(femoral_neck_bmd=neck_bmd(-2.1)))
    a = one({**base, "spine_t": -2.5})
    assert (a["caroc_risk"], a["caroc_reasons"]) == (
        "moderate", ["CAROC-BASAL", "CAROC-SPINE-HIP"])
    a = one({**base, "total_hip_t": -2.6, **GC})  # moderate, then one step up
    assert (a["caroc_risk"], a["caroc_reasons"]) == (
        "high", ["CAROC-BASAL", "CAROC-SPINE-HIP", "CAROC-GLUCOCORTICOID"])
    assert one({**base, "spine_t": -2.4})["caroc_risk"] == "low"
    # not computed (no femoral neck result) with a low spine: moderate
    nothing = exam(spine_t=-2.5) if sex == "F" else man(spine_t=-2.5)
    a = one(nothing)
    assert (a["caroc_risk"], a["caroc_reasons"]) == ("moderate", ["CAROC-SPINE-HIP"])
    # a spine on one vertebra is not valid: nothing
    a = one({**nothing, "spine_vertebrae": 1, "total_hip_t": -1.0})
    assert a["caroc_risk"] is None


@pytest.mark.parametrize("sex", ["F", "M"])
def test_caroc_hip_vertebral_fx(sex: str) -> None:
    base = (exam(femoral_neck_t=-2.1) if sex == "F"
            else man(femoral_neck_bmd=neck_bmd(-2.1)))
    a = one({**base, "prior_fragility_fracture": True, "prior_fracture_sites": ["hip"]})
    assert (a["caroc_risk"], a["caroc_reasons"]) == (
        "high", ["CAROC-BASAL", "CAROC-FX", "CAROC-HIP-VERTEBRAL-FX"])
    a = one({**base, "vertebral_fracture": True})  # radiographic: not CAROC-FX
    assert (a["caroc_risk"], a["caroc_reasons"]) == (
        "high", ["CAROC-BASAL", "CAROC-HIP-VERTEBRAL-FX"])
    a = one({**base, "prior_fragility_fracture": True,
             "prior_fracture_sites": ["humerus", "other"]})  # two sites
    assert a["caroc_risk"] == "high" and "CAROC-HIP-VERTEBRAL-FX" in a["caroc_reasons"]
    # basal not computed (no femoral neck): high all the same
    bare = exam(spine_t=-1.5) if sex == "F" else man(spine_t=-1.5)
    a = one({**bare, "vertebral_fracture": True})
    assert (a["caroc_risk"], a["caroc_reasons"]) == ("high", ["CAROC-HIP-VERTEBRAL-FX"])
    a = one({**bare, "prior_fragility_fracture": True})  # no category for FX to raise
    assert (a["caroc_risk"], a["caroc_reasons"]) == (None, [])


def test_oc_2010_four_lines_and_mon_caroc() -> None:
    cases = [  # (neck T, caroc, treatment, line, months)
        (-3.8, "high", "recommended", "OC-HIGH", 12),
        (-3.0, "moderate", "consider", "OC-MODERATE", 24),
        (-2.1, "low", "not_indicated", "OC-LOW", 60),
    ]
    for t, caroc, treatment, line, months in cases:
        a = one(exam(femoral_neck_t=t, **LOW_FRAX), "oc-2010")
        assert (a["caroc_risk"], a["treatment"]) == (caroc, treatment)
        assert line in a["reasons"] and "MON-CAROC" in a["reasons"]
        assert a["next_dxa_due"] == add_months(DAY, months)
        assert not {"MON-UNTREATED", "MON-NORMAL", "TX-OSTEOPOROSIS"} & set(a["reasons"])
    # forearm only: WHO osteoporosis, but CAROC not computable decides
    a = one(exam(radius_33_t=-2.8), "oc-2010")
    assert (a["who_category"], a["caroc_risk"]) == ("osteoporosis", None)
    assert a["treatment"] == "needs_risk_assessment" and "OC-NOT-COMPUTABLE" in a["reasons"]
    assert a["next_dxa_due"] == add_months(DAY, 24)
    # low CAROC with long-term glucocorticoids: the earlier date wins
    a = one(exam(femoral_neck_t=-2.1, glucocorticoid_mg_day=5.0, glucocorticoid_months=6.0),
            "oc-2010")
    assert a["next_dxa_due"] == add_months(DAY, 24)
    assert {"MON-CAROC", "MON-GLUCOCORTICOID"} <= set(a["reasons"])
    # oc-2010 computes and stores adjusted FRAX, but does not decide on it
    a = one(exam(femoral_neck_t=-2.1, frax_major_pct=25.0, frax_hip_pct=1.0), "oc-2010")
    assert a["frax_major_adjusted"] == 25.0 and a["treatment"] == "not_indicated"


# ------------------------------------------------------------------ section 4b


def test_vhr_very_low_t() -> None:
    a, flags = decide_one(exam(spine_t=-3.1), "core-2025")
    assert a["treatment"] == "recommended" and a["first_line_therapy"] == SPECIALIST
    assert "VHR-VERY-LOW-T" in a["reasons"] and "VHR-ESCALATE" not in a["reasons"]
    assert [(f["code"], f["severity"]) for f in flags if f["code"] == "VERY_HIGH_RISK"] == [
        ("VERY_HIGH_RISK", "high")]
    assert "VERY_HIGH_RISK" not in codes(exam(spine_t=-3.0))


def test_vhr_frax_escalates() -> None:
    a = one(article(frax_major_pct=30.1))  # TX-FRAX-HIGH consider -> recommended
    assert a["treatment"] == "recommended" and a["first_line_therapy"] == SPECIALIST
    assert {"VHR-FRAX", "VHR-ESCALATE", "TX-FRAX-HIGH"} <= set(a["reasons"])
    assert one(article(frax_major_pct=30.0))["treatment"] == "consider"
    assert one(article(frax_hip_pct=4.5))["treatment"] == "consider"
    assert one(article(frax_hip_pct=4.6))["treatment"] == "recommended"
    # adjusted: 3.8 x 1.2 = 4.56 > 4.5
    assert "VHR-FRAX" in one(article(frax_hip_pct=3.8, **GC))["reasons"]
    # normal BMD, not indicated -> recommended; under oc-2010 on adjusted FRAX too
    a = one(article(femoral_neck_t=-0.5, frax_major_pct=35.0))
    assert a["treatment"] == "recommended" and "TX-NORMAL" in a["reasons"]
    a = one(article(femoral_neck_t=-0.5, frax_major_pct=28.0, **GC), "oc-2010")
    assert a["treatment"] == "recommended" and "VHR-ESCALATE" in a["reasons"]
    # on treatment stays on treatment
    a = one(article(frax_major_pct=35.0, on_treatment=True))
    assert a["treatment"] == "on_treatment" and a["first_line_therapy"] is None
    assert "VHR-ESCALATE" not in a["reasons"]


def test_vhr_multiple_fx() -> None:
    def vhr(**f: Any) -> bool:
        return "VHR-MULTIPLE-FX" in one(article(**f), "bhof-2022")["reasons"]

    assert vhr(prior_fragility_fracture=True, prior_fracture_sites=["humerus", "other"])
    assert vhr(prior_fragility_fracture=True, prior_fracture_sites=["forearm"],
               vertebral_fracture=True)
    assert not vhr(prior_fragility_fracture=True, prior_fracture_sites=["vertebral"],
                   vertebral_fracture=True)  # one site
    assert not vhr(prior_fragility_fracture=True, vertebral_fracture=True)  # yes, no site
    a = one(article(prior_fragility_fracture=True, prior_fracture_sites=["humerus", "other"]),
            "bhof-2022")  # BHOF-FX-OTHER-LOW-BMD consider -> recommended
    assert a["treatment"] == "recommended" and "VHR-ESCALATE" in a["reasons"]


def test_vhr_recent_fx_and_glucocorticoid() -> None:
    recent = article(last_fracture_date=DAY - dt.timedelta(days=365))
    assert "VHR-RECENT-FX" in one(recent)["reasons"]
    older = article(last_fracture_date=DAY - dt.timedelta(days=366))
    assert "VHR-RECENT-FX" not in one(older)["reasons"]
    assert one(older)["treatment"] == "recommended"  # a date implies a fracture
    a = one(article(prior_fragility_fracture=True, **GC))
    assert "VHR-FX-GLUCOCORTICOID" in a["reasons"]
    assert "VHR-FX-GLUCOCORTICOID" not in one(article(**GC))["reasons"]


def test_vhr_fx_on_treatment_persists() -> None:
    rows = [
        article(exam_date=dt.date(2021, 1, 1), on_treatment=True),
        article(exam_date=dt.date(2022, 1, 1), prior_fragility_fracture=True,
                prior_fracture_sites=["humerus"], on_treatment=True),
        article(exam_date=dt.date(2023, 1, 1), prior_fragility_fracture=None),
    ]
    got = patient(rows)
    assert ["VHR-FX-ON-TREATMENT" in a["reasons"] for a, _ in got] == [False, True, True]
    assert "VERY_HIGH_RISK" in got[2][1]
    assert got[2][0]["treatment"] == "recommended"  # fracture carried, VHR persists
    # the previous visit not on treatment: not met
    rows[0] = {**rows[0], "on_treatment": False}
    assert not any("VHR-FX-ON-TREATMENT" in a["reasons"] for a, _ in patient(rows))
    # the treatment-course columns
    a = one(article(treatment_start_date=dt.date(2022, 1, 1),
                    last_fracture_date=dt.date(2023, 5, 1), on_treatment=True))
    assert "VHR-FX-ON-TREATMENT" in a["reasons"] and "VHR-RECENT-FX" not in a["reasons"]


# ------------------------------------------------------------------ section 7a


def test_hx_same_day_lowest_valid_site_over_the_visit() -> None:
    rows = [article(femoral_neck_t=-2.1, femoral_neck_z=None, **LOW_FRAX),
            exam(radius_33_t=-2.8, frax_major_pct=None, frax_hip_pct=None,
                 current_smoker=True)]
    got = patient(rows)
    # the visit has a hip and no spine: the radius is valid and lowest
    for a, flag_codes in got:
        assert (a["diagnostic_site"], a["diagnostic_t_score"]) == ("radius_33", -2.8)
        assert a["treatment"] == "recommended" and a["history_used"] == ["HX-SAME-DAY"]
        assert "SAME_DAY_EXAMS" in flag_codes and "RF-SMOKING" in a["reasons"]
        assert "SITE-RADIUS" in a["reasons"]
    assert got[0][0] == {**got[1][0], "exam_id": "E1"}
    # with a spine and a hip that day, the radius is not valid
    rows[0] = {**rows[0], "spine_t": -1.5}
    a = patient(rows)[1][0]
    assert (a["diagnostic_site"], a["who_category"]) == ("femoral_neck", "osteopenia")
    assert a["treatment"] == "not_indicated"  # FRAX from the other row, highest


def test_hx_same_day_spine_validity_per_row() -> None:
    """Validity per row (the 1-vertebra spine is not valid, the 3-vertebra one is); the
    flag is the visit's, so on each of its rows."""
    rows = [exam(spine_t=-3.0, spine_vertebrae=1, femoral_neck_t=-1.2),
            exam(spine_t=-1.5, spine_vertebrae=3)]
    got = patient(rows)
    assert got[0][0]["diagnostic_t_score"] == -1.5
    assert "SPINE_TOO_FEW_VERTEBRAE" in got[0][1]
    assert "SPINE_TOO_FEW_VERTEBRAE" in got[1][1]
    assert "SITE-SPINE-MIN2" in got[1][0]["reasons"]


def test_hx_fracture_persists_and_conflict() -> None:
    rows = [
        article(exam_date=dt.date(2022, 5, 1), prior_fragility_fracture=True,
                prior_fracture_sites=["forearm"]),
        article(exam_date=dt.date(2024, 5, 1), prior_fragility_fracture=None),
        article(exam_date=dt.date(2025, 5, 1), prior_fragility_fracture=False),
    ]
    got = patient(rows)
    assert [a["treatment"] for a, _ in got] == ["recommended"] * 3
    assert [a["history_used"] for a, _ in got] == [
        [], ["HX-FRACTURE-PERSISTS"], ["HX-FRACTURE-PERSISTS"]]
    assert ["FRACTURE_HISTORY_CONFLICT" in c for _, c in got] == [False, False, True]
    # bhof: the forearm site carries (BHOF-FX-OTHER-LOW-BMD, not site-unknown)
    got = patient(rows, "bhof-2022")
    assert [a["treatment"] for a, _ in got] == ["consider"] * 3
    assert all("FRACTURE_SITE_UNKNOWN" not in c for _, c in got)


def test_hx_fracture_sites_accumulate() -> None:
    rows = [
        article(exam_date=dt.date(2022, 5, 1), prior_fragility_fracture=True,
                prior_fracture_sites=["humerus"]),
        article(exam_date=dt.date(2024, 5, 1), prior_fragility_fracture=True,
                prior_fracture_sites=["pelvis"]),
    ]
    got = patient(rows, "bhof-2022")
    assert "VHR-MULTIPLE-FX" not in got[0][0]["reasons"]
    assert {"VHR-MULTIPLE-FX", "VHR-ESCALATE"} <= set(got[1][0]["reasons"])
    assert got[1][0]["history_used"] == ["HX-FRACTURE-PERSISTS"]
    # a radiographic vertebral fracture carries too; a no after it conflicts
    rows = [article(exam_date=dt.date(2022, 5, 1), vertebral_fracture=True),
            article(exam_date=dt.date(2024, 5, 1), vertebral_fracture=False)]
    got = patient(rows, "bhof-2022")
    assert got[1][0]["treatment"] == "recommended"
    assert "BHOF-HIP-VERTEBRAL-FX" in got[1][0]["reasons"]
    assert "FRACTURE_HISTORY_CONFLICT" in got[1][1]


def test_hx_osteoporosis_persists() -> None:
    rows = [article(exam_date=dt.date(2022, 5, 1), femoral_neck_t=-2.6),
            article(exam_date=dt.date(2024, 5, 1), femoral_neck_t=-2.4)]
    got = patient(rows)
    a = got[1][0]
    assert a["who_category"] == "osteopenia" and a["treatment"] == "recommended"
    assert "TX-OSTEOPOROSIS-HISTORY" in a["reasons"] and "TX-LOW-RISK" not in a["reasons"]
    assert a["history_used"] == ["HX-OSTEOPOROSIS-PERSISTS"]
    a = patient(rows, "bhof-2022")[1][0]
    assert a["treatment"] == "recommended" and "BHOF-OSTEOPOROSIS-HISTORY" in a["reasons"]
    a = patient(rows, "oc-2010")[1][0]  # no history line in oc-2010: row 60, -2.4 moderate
    assert a["treatment"] == "consider" and a["history_used"] == []
    assert "OC-MODERATE" in a["reasons"]
    # an earlier exam on the Z basis does not count
    rows[0] = {**rows[0], "menopausal_status": "pre", "age_years": 45.0,
               "femoral_neck_z": -2.5}
    assert patient(rows)[1][0]["treatment"] == "not_indicated"


def test_hx_central_site_forearm_visit() -> None:
    rows = [article(exam_date=dt.date(2023, 1, 10), femoral_neck_t=-2.4),
            article(exam_date=dt.date(2024, 6, 1), femoral_neck_t=None,
                    femoral_neck_z=None, radius_33_t=-0.8, frax_hip_pct=3.5)]
    got = patient(rows)
    central, forearm = got[0][0], got[1][0]
    assert central["next_dxa_due"] == dt.date(2025, 1, 10)  # MON-UNTREATED
    # stored: its own measured site; decided: on the lower carried T (osteopenia)
    assert (forearm["diagnostic_site"], forearm["diagnostic_t_score"],
            forearm["who_category"]) == ("radius_33", -0.8, "normal")
    assert forearm["treatment"] == "consider" and "TX-FRAX-HIGH" in forearm["reasons"]
    assert forearm["history_used"] == ["HX-CENTRAL-SITE"]
    # never later than the central visit's date
    assert forearm["next_dxa_due"] == dt.date(2025, 1, 10)
    # its own lower T decides itself, with no carried value
    rows[1] = {**rows[1], "radius_33_t": -2.7}
    forearm = patient(rows)[1][0]
    assert forearm["who_category"] == "osteoporosis" and forearm["treatment"] == "recommended"
    # +12 (2025-06-01) is later than the central visit's date, which stands (the date is
    # carried, so HX-CENTRAL-SITE is listed)
    assert forearm["next_dxa_due"] == dt.date(2025, 1, 10)
    assert forearm["history_used"] == ["HX-CENTRAL-SITE"]
    rows[1] = {**rows[1], "exam_date": dt.date(2023, 6, 1)}
    forearm = patient(rows)[1][0]
    assert forearm["next_dxa_due"] == dt.date(2024, 6, 1)  # its own, earlier
    assert forearm["history_used"] == []


def test_hx_central_site_vhr_from_the_carried_t() -> None:
    rows = [exam(exam_date=dt.date(2023, 1, 10), spine_t=-3.2, on_treatment=True),
            exam(exam_date=dt.date(2024, 1, 10), radius_33_t=-1.5, on_treatment=True)]
    a = patient(rows)[1][0]
    assert "VHR-VERY-LOW-T" in a["reasons"] and "HX-CENTRAL-SITE" in a["history_used"]
    assert a["diagnostic_t_score"] == -1.5 and a["treatment"] == "on_treatment"


def test_hx_back_filled_exam_rejudges_later_ones() -> None:
    later = article(exam_id="E2", exam_date=dt.date(2025, 1, 1))
    alone = decide_patient([later], "core-2025")[0][0]
    earlier = article(exam_id="E1", exam_date=dt.date(2020, 1, 1), femoral_neck_t=-2.7)
    both = decide_patient([later, earlier], "core-2025")  # input order kept
    assert alone["treatment"] == "not_indicated"
    assert both[0][0]["exam_id"] == "E2" and both[0][0]["treatment"] == "recommended"


# ------------------------------------------------------------------ sections 1, 6


def test_meno_unknown_low_bmd() -> None:
    row = exam(age_years=45.0, menopausal_status="unknown", femoral_neck_t=-2.6,
               femoral_neck_z=-1.0)
    a, flags = decide_one(row, "core-2025")
    got = {(f["code"], f["severity"]) for f in flags}
    assert {("MENOPAUSE_UNKNOWN_LOW_BMD", "warning"), ("MENOPAUSE_ASSUMED", "info")} <= got
    assert a["basis"] == "iscd_z_score" and "MENO-UNKNOWN-LOW-BMD" in a["reasons"]
    for changes in ({"age_years": 39.0}, {"menopausal_status": "pre"},
                    {"femoral_neck_t": -2.4}):
        assert "MENOPAUSE_UNKNOWN_LOW_BMD" not in codes({**row, **changes})


def test_gc_long_term_review_lifestyle_and_date() -> None:
    row = exam(age_years=45.0, menopausal_status="pre", femoral_neck_z=0.0,
               glucocorticoid_mg_day=2.5, glucocorticoid_months=3.0)
    a, flags = decide_one(row, "core-2025")
    assert ("GLUCOCORTICOID_RISK_REVIEW", "warning") in {
        (f["code"], f["severity"]) for f in flags}
    assert a["lifestyle"] == LIFESTYLE and a["next_dxa_due"] == add_months(DAY, 24)
    assert {"GC-RISK-REVIEW", "MON-GLUCOCORTICOID", "LIFESTYLE"} <= set(a["reasons"])
    assert "GLUCOCORTICOID_RISK_REVIEW" not in codes({**row, "age_years": 39.0})
    assert "GLUCOCORTICOID_RISK_REVIEW" not in codes({**row, "glucocorticoid_mg_day": 2.4})
    # on the WHO basis at normal BMD: advice and a date, no review flag
    a = one(exam(femoral_neck_t=0.0, glucocorticoid_mg_day=2.5, glucocorticoid_months=3.0))
    assert a["lifestyle"] == LIFESTYLE and a["next_dxa_due"] == add_months(DAY, 24)


def test_vfa_iscd_2019() -> None:
    def vfa(**f: Any) -> bool:
        a = one(exam(**{"femoral_neck_t": -1.1, **f}))
        return "VFA-ISCD-2019" in a["reasons"] and a["vfa_recommended"]

    assert vfa(age_years=70.0) and not vfa(age_years=69.0)
    assert not vfa(age_years=70.0, femoral_neck_t=-1.0)
    assert vfa(glucocorticoid_mg_day=5.0, glucocorticoid_months=3.0)
    assert not vfa(glucocorticoid_mg_day=4.9, glucocorticoid_months=3.0)
    assert vfa(prior_fragility_fracture=True, prior_fracture_sites=["vertebral"])
    assert not vfa(prior_fragility_fracture=True, prior_fracture_sites=["vertebral"],
                   vertebral_fracture=False)
    assert vfa(height_loss_cm=4.1)
    m = man(femoral_neck_t=-1.1, age_years=80.0)
    assert "VFA-ISCD-2019" in one(m)["reasons"]
    assert "VFA-ISCD-2019" not in one({**m, "age_years": 79.0})["reasons"]


def test_optional_layer_reads_matching_thresholds_from_the_model() -> None:
    """`use_model=True`: thresholds whose names match the Ruleset model come from the
    loaded file; the lines, CAROC, VHR and 4a stay the spec's."""
    from oracle import SPEC, params_from_ruleset

    from transforms.rules.ruleset import load_ruleset

    for name in ("core-2025", "bhof-2022"):
        model = load_ruleset(name)
        p = params_from_ruleset(model)
        assert p["lines"] == SPEC[name]["lines"]
        assert p["frax_hip_pct"] == model.treatment.frax_hip_pct
        assert p["bmi"] == model.risk.bmi and p["vhr_t"] == -3.0
        a = decide_one(article(), model, use_model=True)[0]
        assert a["ruleset"] == model.label and a["who_category"] == "osteopenia"
