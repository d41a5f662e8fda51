"""CAROC (clinical-rules.md section 5a) under every ruleset, and the oc-2010 ruleset that
decides on it: the cuts of every age row on both sides, the age edges, a man's femoral
neck T from BMD, the raising rules, the OC lines and MON-CAROC."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rules_helpers import assess

from transforms.rules.ruleset import Ruleset

#: (age row, low_above, high_below) as section 5a lists them.
WOMEN = [(50, -2.5, -3.8), (55, -2.5, -3.8), (60, -2.3, -3.7), (65, -1.9, -3.5),
         (70, -1.7, -3.2), (75, -1.2, -2.9), (80, -0.5, -2.6), (85, 0.1, -2.2)]
MEN = [(50, -2.5, -3.9), (55, -2.5, -3.9), (60, -2.5, -3.7), (65, -2.4, -3.7),
       (70, -2.3, -3.7), (75, -2.3, -3.8), (80, -2.1, -3.8), (85, -2.0, -3.8)]
#: A tiny step past a cut (counts: the comparison is at 6 decimals).
STEP = 0.000001
NECK_MEAN, NECK_SD = 0.858, 0.120  # NHANES III white women, femoral neck


def woman(ruleset: Ruleset, age: float, t: float, **fields: Any) -> dict[str, Any]:
    return assess(ruleset, age_years=age, femoral_neck_t=t, **fields)


def man(ruleset: Ruleset, age: float, t: float, **fields: Any) -> dict[str, Any]:
    """A man whose Hologic femoral neck BMD is T = t on the female reference; his reported
    (male-reference) T-score is something else and must be ignored."""
    fields = {"scanner_manufacturer": "Hologic", "femoral_neck_t": t + 0.7,
              "femoral_neck_bmd": round(NECK_MEAN + t * NECK_SD, 9), **fields}
    return assess(ruleset, sex="M", age_years=age, menopausal_status=None, **fields)


def _cases(table: list[tuple[int, float, float]]) -> list[tuple[int, float, str]]:
    cases = []
    for age, low_above, high_below in table:
        cases += [(age, low_above + STEP, "low"), (age, low_above, "moderate"),
                  (age, high_below, "moderate"), (age, high_below - STEP, "high")]
        cases.append((age + 4, low_above, "moderate"))  # the row covers up to the next
    return cases


@pytest.mark.parametrize(("age", "t", "risk"), _cases(WOMEN))
def test_women_cuts(core, age: int, t: float, risk: str) -> None:
    row = woman(core, age, t)
    assert (row["caroc_risk"], row["caroc_reasons"]) == (risk, ["CAROC-BASAL"])


@pytest.mark.parametrize(("age", "t", "risk"), _cases(MEN))
def test_men_cuts_from_bmd(core, age: int, t: float, risk: str) -> None:
    row = man(core, age, t)
    assert (row["caroc_risk"], row["caroc_reasons"]) == (risk, ["CAROC-BASAL"])


@pytest.mark.parametrize(("age", "t", "risk"), [
    (49.0, -2.5, None),         # under 50: not computed
    (50.0, -2.5, "moderate"),   # row 50: -2.5 is its low cut
    (84.0, 0.0, "low"),         # row 80: 0.0 > -0.5
    (85.0, 0.0, "moderate"),    # row 85: 0.0 <= 0.1
    (86.0, 0.0, "moderate"),    # 85 and over: row 85
])
def test_age_edges(core, age: float, t: float, risk: str | None) -> None:
    assert woman(core, age, t)["caroc_risk"] == risk


@pytest.mark.parametrize("maker", [None, "GE Lunar"])
def test_man_without_hologic_bmd_is_not_computed(core, maker: str | None) -> None:
    row = man(core, 70.0, -3.0, scanner_manufacturer=maker)
    assert (row["caroc_risk"], row["caroc_reasons"]) == (None, [])


def test_not_computed_off_the_who_basis(core) -> None:
    row = assess(core, age_years=45.0, menopausal_status="pre", femoral_neck_z=-1.0)
    assert (row["basis"], row["caroc_risk"], row["caroc_reasons"]) == (
        "iscd_z_score", None, [])


@pytest.mark.parametrize(("fields", "risk", "reasons"), [
    ({"spine_t": -2.5}, "moderate", ["CAROC-BASAL", "CAROC-SPINE-HIP"]),
    ({"spine_t": -2.499999}, "low", ["CAROC-BASAL"]),
    ({"total_hip_t": -2.5}, "moderate", ["CAROC-BASAL", "CAROC-SPINE-HIP"]),
    ({"prior_fragility_fracture": True}, "moderate", ["CAROC-BASAL", "CAROC-FX"]),
    ({"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 3.0}, "moderate",
     ["CAROC-BASAL", "CAROC-GLUCOCORTICOID"]),
    ({"prior_fragility_fracture": True, "glucocorticoid_mg_day": 7.5,
      "glucocorticoid_months": 3.0}, "high",
     ["CAROC-BASAL", "CAROC-FX", "CAROC-GLUCOCORTICOID", "CAROC-BOTH"]),
    ({"prior_fracture_sites": ["hip"], "prior_fragility_fracture": True}, "high",
     ["CAROC-BASAL", "CAROC-FX", "CAROC-HIP-VERTEBRAL-FX"]),
    ({"vertebral_fracture": True}, "high", ["CAROC-BASAL", "CAROC-HIP-VERTEBRAL-FX"]),
    ({"prior_fracture_sites": ["forearm", "humerus"], "prior_fragility_fracture": True},
     "high", ["CAROC-BASAL", "CAROC-FX", "CAROC-HIP-VERTEBRAL-FX"]),
])
def test_raising_rules(core, fields: dict[str, Any], risk: str, reasons: list[str]) -> None:
    """A woman of 62 at T -2.0 (row 60: low above -2.3) is low before these rules."""
    row = woman(core, 62.0, -2.0, **fields)
    assert (row["caroc_risk"], row["caroc_reasons"]) == (risk, reasons)


def test_without_a_femoral_neck(core) -> None:
    """No basal category: the spine-hip and hip-vertebral rules still give one; the steps
    need a category."""
    spine = woman(core, 62.0, None, spine_t=-2.6)
    assert (spine["caroc_risk"], spine["caroc_reasons"]) == ("moderate", ["CAROC-SPINE-HIP"])
    fx = woman(core, 62.0, None, spine_t=-1.0, vertebral_fracture=True)
    assert (fx["caroc_risk"], fx["caroc_reasons"]) == ("high", ["CAROC-HIP-VERTEBRAL-FX"])
    none = woman(core, 62.0, None, spine_t=-1.0, prior_fragility_fracture=True)
    assert (none["caroc_risk"], none["caroc_reasons"]) == (None, [])


def test_caroc_decides_nothing_under_core(core) -> None:
    row = woman(core, 62.0, -1.5, prior_fracture_sites=None, vertebral_fracture=True)
    assert row["caroc_risk"] == "high"
    assert not any(r.startswith(("CAROC-", "OC-")) for r in row["reasons"])


# --- oc-2010 -------------------------------------------------------------------------------

EXAM = dt.date(2025, 3, 14)


@pytest.mark.parametrize(("age", "t", "fields", "treatment", "line", "due", "mon"), [
    (62.0, -2.0, {}, "not_indicated", "OC-LOW", dt.date(2030, 3, 14), "MON-CAROC"),
    (62.0, -2.3, {}, "consider", "OC-MODERATE", dt.date(2027, 3, 14), "MON-CAROC"),
    (62.0, -3.71, {}, "recommended", "OC-HIGH", dt.date(2026, 3, 14), "MON-TREATED"),
    (45.0, -2.0, {}, "needs_risk_assessment", "OC-NOT-COMPUTABLE", dt.date(2027, 3, 14),
     "MON-CAROC"),
    (62.0, -0.5, {}, "not_indicated", "OC-LOW", dt.date(2030, 3, 14), "MON-CAROC"),
    (62.0, -2.0, {"on_treatment": True}, "on_treatment", "OC-LOW", dt.date(2026, 3, 14),
     "MON-TREATED"),
])
def test_oc_lines_and_follow_up(oc, age, t, fields, treatment, line, due, mon) -> None:
    row = woman(oc, age, t, **fields)
    assert row["treatment"] == treatment
    assert row["next_dxa_due"] == due
    tx = [r for r in row["reasons"] if r.startswith(("OC-", "MON-", "TX-", "WHO-OSTEOP"))]
    assert line in tx and mon in tx
    assert "MON-UNTREATED" not in row["reasons"] and "MON-NORMAL" not in row["reasons"]


def test_oc_osteoporosis_does_not_decide(oc) -> None:
    """WHO osteoporosis at 80 with T -2.5 is moderate by CAROC: consider, not recommended."""
    row = woman(oc, 80.0, -2.5)
    assert (row["who_category"], row["caroc_risk"], row["treatment"]) == (
        "osteoporosis", "moderate", "consider")
    assert "TX-OSTEOPOROSIS" not in row["reasons"]


def test_oc_glucocorticoid_date_is_earlier(oc) -> None:
    row = woman(oc, 62.0, -2.0, glucocorticoid_mg_day=2.0, glucocorticoid_months=12.0)
    assert row["next_dxa_due"] == dt.date(2030, 3, 14)  # below GC-LONG-TERM: low, +60
    long_term = woman(oc, 62.0, -2.0, glucocorticoid_mg_day=2.5, glucocorticoid_months=3.0)
    assert long_term["next_dxa_due"] == dt.date(2027, 3, 14)  # MON-GLUCOCORTICOID +24
    steroid = woman(oc, 62.0, -1.0, glucocorticoid_mg_day=7.5, glucocorticoid_months=3.0)
    assert (steroid["caroc_risk"], steroid["next_dxa_due"]) == ("moderate", dt.date(2027, 3, 14))
    assert {"MON-CAROC", "MON-GLUCOCORTICOID"} <= set(steroid["reasons"])
