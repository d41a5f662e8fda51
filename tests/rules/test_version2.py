"""Clinical rules version 2 (clinical-rules.md sections 4-6, 10): each new or changed
treatment rule on both sides of its bound and in its order (indication vs fallback)."""

from __future__ import annotations

import datetime as dt

import pytest
from rules_helpers import assess, assess_worked, frame, worked

from transforms.rules.decide import decide

BASE = ["BASIS-WHO", "SITE-LOWEST"]
ADVICE = ["weight_bearing_exercise", "fall_prevention", "calcium_1000_1200mg",
          "vitamin_d_800_1000iu"]
IN_12 = dt.date(2026, 3, 14)
IN_24 = dt.date(2027, 3, 14)


def flags_of(ruleset, **changes) -> dict[str, str]:
    """code -> severity of the flags raised for the worked example with changes."""
    found = decide(frame([worked(**changes)]), ruleset).flags
    return dict(zip(found["code"], found["severity"], strict=True))


# --- vertebral fracture at normal BMD (version 3: TX-VERTEBRAL-FX, recommended) ----------

@pytest.mark.parametrize(("t", "normal"), [(-1.0, True), (-0.2, True), (-1.1, False)])
def test_vertebral_fracture_at_normal_bmd(core, t: float, normal: bool) -> None:
    row = assess_worked(core, femoral_neck_t=t, vertebral_fracture=True)
    assert row["treatment"] == "recommended"
    assert "TX-VERTEBRAL-FX" in row["reasons"]
    assert ("TX-NORMAL" in row["reasons"]) is False  # the fallback yields to the indication
    assert ("VERTEBRAL_FX_NORMAL_BMD" in flags_of(core, femoral_neck_t=t,
                                                  vertebral_fracture=True)) is normal
    assert row["next_dxa_due"] == IN_12 and row["lifestyle"] == ADVICE
    assert row["first_line_therapy"] is not None


def test_normal_bmd_without_vertebral_fracture_is_the_fallback(core) -> None:
    row = assess_worked(core, femoral_neck_t=-1.0, vertebral_fracture=False)
    assert row["reasons"] == [*BASE, "WHO-NORMAL", "TX-NORMAL", "MON-NORMAL"]
    assert flags_of(core, femoral_neck_t=-1.0).get("VERTEBRAL_FX_NORMAL_BMD") is None
    assert flags_of(core, femoral_neck_t=-1.0, vertebral_fracture=True)[
        "VERTEBRAL_FX_NORMAL_BMD"] == "warning"


# --- TX-ON-TREATMENT ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["core", "bhof"])
@pytest.mark.parametrize(
    ("changes", "lines", "no_indication"),
    [
        ({}, {"core": ["TX-LOW-RISK"], "bhof": ["BHOF-LOW-RISK"]}, True),
        ({"femoral_neck_t": -0.5}, {"core": ["TX-NORMAL"], "bhof": ["BHOF-LOW-RISK"]}, True),
        ({"frax_hip_pct": None}, {"core": ["TX-FRAX-MISSING"], "bhof": ["BHOF-FRAX-MISSING"]},
         False),
        ({"femoral_neck_t": -2.5}, {"core": ["TX-OSTEOPOROSIS"], "bhof": ["BHOF-OSTEOPOROSIS"]},
         False),
    ],
)
def test_on_treatment(request, name: str, changes: dict, lines: dict,
                      no_indication: bool) -> None:
    ruleset = request.getfixturevalue(name)
    treated = assess_worked(ruleset, on_treatment=True, **changes)
    assert treated["treatment"] == "on_treatment"
    assert treated["first_line_therapy"] is None
    tx = [r for r in treated["reasons"] if r.startswith(("TX-", "BHOF-"))]
    assert tx == [*lines[name], "TX-ON-TREATMENT"]  # eligibility stays visible
    assert treated["next_dxa_due"] == IN_12 and treated["lifestyle"] == ADVICE
    flagged = flags_of(ruleset, on_treatment=True, **changes)
    assert ("ON_TREATMENT_NO_INDICATION" in flagged) is no_indication
    if no_indication:
        assert flagged["ON_TREATMENT_NO_INDICATION"] == "info"
    for off in (False, None):  # not on treatment: the lines decide
        untreated = assess_worked(ruleset, on_treatment=off, **changes)
        assert untreated["treatment"] != "on_treatment"
        assert "TX-ON-TREATMENT" not in untreated["reasons"]


def test_on_treatment_is_who_basis_only(core) -> None:
    row = assess(core, sex="M", age_years=40.0, femoral_neck_z=-1.0, on_treatment=True)
    assert row["treatment"] == "not_applicable"
    assert "TX-ON-TREATMENT" not in row["reasons"]


# --- fractures on the Z basis ------------------------------------------------------------

@pytest.mark.parametrize(
    ("fields", "z_fracture"),
    [
        ({"sex": "M", "age_years": 49.0, "prior_fragility_fracture": True}, True),
        ({"sex": "M", "age_years": 49.0, "vertebral_fracture": True}, True),
        ({"sex": "F", "age_years": 35.0, "menopausal_status": "pre",
          "vertebral_fracture": True}, True),
        ({"sex": "M", "age_years": 50.0, "prior_fragility_fracture": True}, False),  # WHO
        ({"sex": "M", "age_years": 49.0, "prior_fragility_fracture": False}, False),
        ({"sex": "M", "age_years": 15.0, "prior_fragility_fracture": True}, False),  # child
    ],
)
@pytest.mark.parametrize("name", ["core", "bhof"])
def test_fracture_on_z_basis(request, name: str, fields: dict, z_fracture: bool) -> None:
    ruleset = request.getfixturevalue(name)
    scores = {"femoral_neck_t": -1.2, "femoral_neck_z": -0.5}
    row = assess(ruleset, **scores, **fields)
    codes = decide(frame([{**worked(**scores), **fields}]), ruleset).flags
    severity = dict(zip(codes["code"], codes["severity"], strict=True))
    assert ("WORKUP-Z-FRACTURE" in row["reasons"]) is z_fracture
    assert ("MON-Z-FRACTURE" in row["reasons"]) is z_fracture
    assert (severity.get("FRACTURE_ON_Z_BASIS") == "high") is z_fracture
    assert "FRACTURE_SITE_UNKNOWN" not in severity or row["basis"] == "who_t_score"
    if z_fracture:
        assert row["treatment"] == "not_applicable"
        assert row["secondary_cause_workup"] is True
        assert row["next_dxa_due"] == IN_24


# --- bhof-2022 by fracture site ----------------------------------------------------------

@pytest.mark.parametrize(
    ("t", "sites", "treatment", "line"),
    [
        (-0.5, ["hip"], "recommended", "BHOF-HIP-VERTEBRAL-FX"),
        (-0.5, ["vertebral"], "recommended", "BHOF-HIP-VERTEBRAL-FX"),
        (-0.5, ["forearm", "hip"], "recommended", "BHOF-HIP-VERTEBRAL-FX"),
        (-0.5, None, "recommended", "BHOF-FX-SITE-UNKNOWN"),
        (-2.1, ["humerus"], "consider", "BHOF-FX-OTHER-LOW-BMD"),
        (-2.1, ["pelvis"], "consider", "BHOF-FX-OTHER-LOW-BMD"),
        (-2.1, ["forearm"], "consider", "BHOF-FX-OTHER-LOW-BMD"),
        (-1.0, ["forearm"], "not_indicated", "BHOF-LOW-RISK"),  # normal BMD: no fracture line
        (-2.1, ["other"], "not_indicated", "BHOF-LOW-RISK"),  # `other` matches no line
        (-2.5, ["other"], "recommended", "BHOF-OSTEOPOROSIS"),
    ],
)
def test_bhof_by_fracture_site(bhof, core, t: float, sites, treatment: str,
                               line: str) -> None:
    row = assess_worked(bhof, femoral_neck_t=t, prior_fragility_fracture=True,
                        prior_fracture_sites=sites)
    assert row["treatment"] == treatment
    assert [r for r in row["reasons"] if r.startswith("BHOF-")][0] == line
    unknown = flags_of(bhof, femoral_neck_t=t, prior_fragility_fracture=True,
                       prior_fracture_sites=sites).get("FRACTURE_SITE_UNKNOWN")
    assert unknown == ("info" if sites is None else None)
    # core-2025: any listed site (or none) is TX-FRAGILITY-FX, recommended
    assert assess_worked(core, femoral_neck_t=t, prior_fragility_fracture=True,
                         prior_fracture_sites=sites)["treatment"] == "recommended"


def test_bhof_other_site_still_gets_the_frax_line(bhof) -> None:
    row = assess_worked(bhof, prior_fragility_fracture=True, prior_fracture_sites=["other"],
                        frax_hip_pct=3.0)
    assert row["treatment"] == "recommended"
    assert [r for r in row["reasons"] if r.startswith("BHOF-")] == ["BHOF-FRAX-HIGH"]


def test_bhof_fallback_only_when_no_line_above(bhof) -> None:
    row = assess_worked(bhof, femoral_neck_t=-0.5, vertebral_fracture=True)
    assert [r for r in row["reasons"] if r.startswith("BHOF-")] == ["BHOF-HIP-VERTEBRAL-FX"]
    assert "BHOF-LOW-RISK" in assess_worked(bhof, femoral_neck_t=-0.5)["reasons"]


def test_sites_column_absent_means_not_recorded(bhof) -> None:
    exams = frame([worked(prior_fragility_fracture=True)]).drop("prior_fracture_sites")
    row = decide(exams, bhof).assessments.row(0, named=True)
    assert "BHOF-FX-SITE-UNKNOWN" in row["reasons"]


def test_sites_as_text_are_read_as_codes(bhof) -> None:
    import polars as pl

    exams = frame([worked(prior_fragility_fracture=True)]).with_columns(
        pl.lit("humerus; other").alias("prior_fracture_sites"))
    row = decide(exams, bhof).assessments.row(0, named=True)
    # both codes read: the humerus line, and two sites make VHR-MULTIPLE-FX (version 3)
    assert {"BHOF-FX-OTHER-LOW-BMD", "VHR-MULTIPLE-FX", "VHR-ESCALATE"} <= set(row["reasons"])
    assert row["treatment"] == "recommended"


# --- monitoring: MON-GLUCOCORTICOID (GC-LONG-TERM), the earlier date wins ---------------

GC = {"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 3.0}
#: GC-LONG-TERM's limits (ACR 2022), below RF-GLUCOCORTICOID's.
LONG_TERM = {"glucocorticoid_mg_day": 2.5, "glucocorticoid_months": 3.0}


@pytest.mark.parametrize(
    ("fields", "due", "mon"),
    [
        ({**GC, "femoral_neck_t": -0.5}, IN_24, ["MON-GLUCOCORTICOID"]),  # normal BMD
        ({**LONG_TERM, "femoral_neck_t": -0.5}, IN_24, ["MON-GLUCOCORTICOID"]),
        ({"glucocorticoid_mg_day": 2.4, "glucocorticoid_months": 3.0, "femoral_neck_t": -0.5},
         None, ["MON-NORMAL"]),
        ({"glucocorticoid_mg_day": 2.5, "glucocorticoid_months": 2.9, "femoral_neck_t": -0.5},
         None, ["MON-NORMAL"]),
        # every MON line that gives a date is a reason; the treated 12 months win
        ({**GC, "femoral_neck_t": -0.5, "on_treatment": True}, IN_12,
         ["MON-TREATED", "MON-GLUCOCORTICOID"]),
        ({**GC}, IN_24, ["MON-UNTREATED", "MON-GLUCOCORTICOID"]),  # same date: both lines
    ],
)
def test_glucocorticoid_repeat_date(core, fields: dict, due, mon: list[str]) -> None:
    row = assess_worked(core, **fields)
    assert row["next_dxa_due"] == due
    assert [r for r in row["reasons"] if r.startswith("MON-")] == mon


def test_glucocorticoids_on_the_z_basis(core) -> None:
    row = assess(core, sex="M", age_years=40.0, femoral_neck_z=-1.0, **GC)
    assert row["next_dxa_due"] == IN_24
    assert [r for r in row["reasons"] if r.startswith("MON-")] == ["MON-GLUCOCORTICOID"]


def test_earlier_date_wins_and_both_lines_are_reasons(core) -> None:
    row = assess(core, sex="M", age_years=40.0, femoral_neck_z=-1.0,
                 vertebral_fracture=True, on_treatment=True)
    assert row["next_dxa_due"] == IN_12
    assert [r for r in row["reasons"] if r.startswith("MON-")] == [
        "MON-TREATED", "MON-Z-FRACTURE"]


# --- lifestyle ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "advice"),
    [
        ({"femoral_neck_t": -0.5}, []),
        ({"femoral_neck_t": -0.5, "on_treatment": True}, ADVICE),
        ({"femoral_neck_t": -0.5, "vertebral_fracture": True}, ADVICE),  # consider
        ({"femoral_neck_t": -0.5, "prior_fragility_fracture": True}, ADVICE),  # recommended
    ],
)
def test_lifestyle_for_active_treatment_at_normal_bmd(core, changes: dict, advice) -> None:
    assert assess_worked(core, **changes)["lifestyle"] == advice
