"""Properties that must hold for any exams (hypothesis)."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import add_months
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
        if old == "not_applicable":
            assert new == "not_applicable"
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
CORE_FRAX_HIP, BHOF_FRAX_HIP, FRAX_MAJOR = 5.0, 3.0, 20.0
#: The lines that may decide each level when the two rulesets disagree.
DECIDING = {
    "recommended": {"TX-VERTEBRAL-FX", "TX-FRAX-HIGH"},  # bhof only
    "consider": {"TX-VERTEBRAL-FX", "TX-FRAX-HIGH", "TX-RISK-FEATURES"},  # core only
    "needs_risk_assessment": {"TX-FRAX-MISSING"},
    "not_indicated": {"TX-LOW-RISK", "TX-NORMAL"},
}


def _at_least(value: float | None, limit: float) -> bool:
    return value is not None and value >= limit


def section5_difference(row: dict[str, Any], core: dict[str, Any]) -> tuple[str, str] | None:
    """The (core-2025, bhof-2022) treatments where sections 4 and 5 disagree, else None.

    Both share TX-FRAGILITY-FX and TX-OSTEOPOROSIS (recommended) and the Z and pediatric
    bases (not_applicable). They part only where bhof-2022 recommends for a vertebral
    fracture at any T-score or for FRAX hip >= 3% / major >= 20%, while core-2025 says
    consider for a vertebral fracture (T <= -1.6, or as a high-risk feature), FRAX hip
    >= 5% / major >= 20%, or any high-risk feature, which bhof-2022 only reports.
    """
    category = core["who_category"]
    if category in (None, "osteoporosis") or row["prior_fragility_fracture"] is True:
        return None
    vertebral = row["vertebral_fracture"] is True
    if category == "normal":  # core: TX-NORMAL; bhof: TX-VERTEBRAL-FX at any T-score
        return ("not_indicated", "recommended") if vertebral else None
    hip, major = row["frax_hip_pct"], row["frax_major_pct"]
    fallback = "needs_risk_assessment" if hip is None or major is None else "not_indicated"
    core_active = (
        _at_least(hip, CORE_FRAX_HIP)
        or _at_least(major, FRAX_MAJOR)
        or core["risk_factor_count"] > 0  # a vertebral fracture is one (RF-VERTEBRAL-FX)
    )
    bhof_active = vertebral or _at_least(hip, BHOF_FRAX_HIP) or _at_least(major, FRAX_MAJOR)
    if not (core_active or bhof_active):
        return None  # both TX-FRAX-MISSING or both TX-LOW-RISK
    return ("consider" if core_active else fallback, "recommended" if bhof_active else fallback)


def _deciding_line(assessment: dict[str, Any]) -> str:
    return next(r for r in assessment["reasons"] if r.startswith("TX-"))


@SETTINGS
@given(rows=st.one_of(batches(), who_batches()))
def test_core_and_bhof_differ_only_where_section5_says(rows) -> None:
    """Section 5: same basis, sites and features; the treatment differs exactly where the
    BHOF thresholds part from the article's, and the repeat date follows the treatment."""
    a = decide(frame(rows), CORE).assessments.to_dicts()
    b = decide(frame(rows), BHOF).assessments.to_dicts()
    same = ("basis", "diagnostic_site", "diagnostic_t_score", "diagnostic_z_score",
            "who_category", "z_category", "high_risk_features", "risk_factor_count",
            "secondary_cause_workup", "vfa_recommended", "lifestyle")
    for row, x, y in zip(rows, a, b, strict=True):
        assert {c: x[c] for c in same} == {c: y[c] for c in same}
        assert [r for r in x["reasons"] if r[:3] not in ("TX-", "MON")] == [
            r for r in y["reasons"] if r[:3] not in ("TX-", "MON")
        ]
        assert "TX-RISK-FEATURES" not in y["reasons"]  # reported, never a bhof reason
        expected = section5_difference(row, x)
        if expected is None:
            assert y["treatment"] == x["treatment"], row
            assert y["next_dxa_due"] == x["next_dxa_due"], row
            continue
        assert (x["treatment"], y["treatment"]) == expected, row
        assert _deciding_line(x) in DECIDING[x["treatment"]], x["reasons"]
        assert _deciding_line(y) in DECIDING[y["treatment"]], y["reasons"]
        if x["who_category"] == "normal":  # literal section 4: TX-NORMAL fires beside it
            assert [r for r in y["reasons"] if r.startswith("TX-")] == [
                "TX-VERTEBRAL-FX", "TX-NORMAL"]
        # Same monitoring values in both files: only the 12-month MON-TREATED date moves.
        if row["on_treatment"] is True:
            assert y["next_dxa_due"] == x["next_dxa_due"]
        else:
            untreated = (add_months(row["exam_date"], 24)
                         if x["who_category"] == "osteopenia" else None)
            treated = add_months(row["exam_date"], 12)
            assert x["next_dxa_due"] == untreated  # core never recommends here
            assert y["next_dxa_due"] == (treated if y["treatment"] == "recommended"
                                         else untreated)
