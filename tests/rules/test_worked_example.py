"""clinical-rules.md section 8: the article's case and its two variants, exactly."""

from __future__ import annotations

import datetime as dt

from rules_helpers import WORKED, assess_worked, frame, worked

from transforms.rules.decide import decide

LIFESTYLE = [
    "weight_bearing_exercise",
    "fall_prevention",
    "calcium_1000_1200mg",
    "vitamin_d_800_1000iu",
]
THERAPY = "oral bisphosphonate (alendronate 70 mg weekly, or risedronate)"


def test_article_case(core) -> None:
    row = assess_worked(core)
    assert row == {
        "exam_id": "E1",
        "ruleset": "core-2025@3",
        "basis": "who_t_score",
        "diagnostic_site": "femoral_neck",
        "diagnostic_t_score": -2.1,
        "diagnostic_z_score": -1.0,
        "who_category": "osteopenia",
        "z_category": None,
        "high_risk_features": [],
        "risk_factor_count": 0,
        "treatment": "not_indicated",
        "reasons": [
            "BASIS-WHO",
            "SITE-LOWEST",
            "WHO-OSTEOPENIA",
            "TX-LOW-RISK",
            "MON-UNTREATED",
            "LIFESTYLE",
        ],
        "first_line_therapy": None,
        "secondary_cause_workup": False,
        "vfa_recommended": False,
        "next_dxa_due": dt.date(2027, 3, 14),
        "lifestyle": LIFESTYLE,
        "frax_major_adjusted": 9.0,
        "frax_hip_adjusted": 1.2,
        "caroc_risk": "low",  # age row 60: T -2.1 above -2.3
        "caroc_reasons": ["CAROC-BASAL"],
        "history_used": [],
    }


def test_article_case_without_frax(core) -> None:
    row = assess_worked(core, frax_major_pct=None, frax_hip_pct=None)
    assert row["treatment"] == "needs_risk_assessment"
    assert row["reasons"] == [
        "BASIS-WHO",
        "SITE-LOWEST",
        "WHO-OSTEOPENIA",
        "TX-FRAX-MISSING",
        "MON-UNTREATED",
        "LIFESTYLE",
    ]
    assert row["first_line_therapy"] is None
    assert row["next_dxa_due"] == dt.date(2027, 3, 14)


def test_article_case_with_fragility_fracture(core) -> None:
    row = assess_worked(core, prior_fragility_fracture=True)
    assert row["treatment"] == "recommended"
    assert row["high_risk_features"] == ["RF-FRAGILITY-FX"]
    assert row["risk_factor_count"] == 1
    assert row["reasons"] == [
        "BASIS-WHO",
        "SITE-LOWEST",
        "WHO-OSTEOPENIA",
        "RF-FRAGILITY-FX",
        "TX-FRAGILITY-FX",  # FRAX recorded: the features do not decide again (version 3)
        "MON-TREATED",
        "LIFESTYLE",
    ]
    assert row["first_line_therapy"] == THERAPY
    assert row["next_dxa_due"] == dt.date(2026, 3, 14)


def test_article_case_flags_only_unrecorded_inputs(core) -> None:
    flags = decide(frame([worked()]), core).flags.to_dicts()
    assert flags == [
        {
            "exam_id": "E1",
            "code": "RISK_FACTORS_INCOMPLETE",
            "severity": "info",
            "detail": "not recorded: parent_hip_fracture, height_loss_cm, vertebral_fracture, "
            "alcohol_units_day",
            "ruleset": "core-2025@3",
        }
    ]
    assert "glucocorticoid_months" not in flags[0]["detail"]  # dose 0 is below 7.5
    assert WORKED["glucocorticoid_mg_day"] == 0.0
