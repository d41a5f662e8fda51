"""Row-by-row reference implementation of clinical-rules.md sections 1-6, version 2.

Written from the spec, independently of the vectorized code in `transforms.rules` (it
imports only the Ruleset model, and reads a ruleset's line list as data), so that a
hypothesis test and a 100k-exam comparison can check the two agree. Tests only.
Deliberately plain and slow: one exam dict in, one assessment dict and flag list out.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from transforms.rules.ruleset import Ruleset

SITES = ("spine", "total_hip", "femoral_neck", "radius_33")
RF_ORDER = (
    "RF-FRAGILITY-FX",
    "RF-GLUCOCORTICOID",
    "RF-PARENT-HIP-FX",
    "RF-HEIGHT-LOSS",
    "RF-VERTEBRAL-FX",
    "RF-LOW-BMI",
    "RF-SMOKING",
    "RF-ALCOHOL",
    "RF-AGE65-PLUS",
)
TX_LINES = (
    "TX-FRAGILITY-FX",
    "TX-OSTEOPOROSIS",
    "TX-VERTEBRAL-FX",
    "TX-FRAX-HIGH",
    "TX-RISK-FEATURES",
    "TX-VERTEBRAL-FX-NORMAL-BMD",
    "TX-FRAX-MISSING",
    "TX-LOW-RISK",
    "TX-NORMAL",
    "BHOF-HIP-VERTEBRAL-FX",
    "BHOF-FX-SITE-UNKNOWN",
    "BHOF-OSTEOPOROSIS",
    "BHOF-FRAX-HIGH",
    "BHOF-FX-OTHER-LOW-BMD",
    "BHOF-FRAX-MISSING",
    "BHOF-LOW-RISK",
)
#: Sections 4-5: the lines that fire only when no line above them matched.
FALLBACKS = {"TX-FRAX-MISSING", "TX-LOW-RISK", "TX-NORMAL", "BHOF-FRAX-MISSING",
             "BHOF-LOW-RISK"}
CATALOG_ORDER = (
    "BASIS-WHO",
    "BASIS-ISCD-Z",
    "BASIS-PEDIATRIC",
    "MENO-ASSUMED",
    "SITE-LOWEST",
    "SITE-RADIUS",
    "SITE-SPINE-MIN2",
    "WHO-OSTEOPOROSIS",
    "WHO-OSTEOPENIA",
    "WHO-NORMAL",
    "Z-BELOW",
    "Z-WITHIN",
    *RF_ORDER,
    *TX_LINES,
    "TX-ON-TREATMENT",
    "WORKUP-LOW-Z",
    "WORKUP-Z-FRACTURE",
    "VFA-INDICATED",
    "MON-TREATED",
    "MON-UNTREATED",
    "MON-GLUCOCORTICOID",
    "MON-Z-FRACTURE",
    "MON-NORMAL",
    "LIFESTYLE",
)


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar month arithmetic, clamping to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _true(value: Any) -> bool:
    return value is True


def _fmt(x: float) -> str:
    return f"{x:g}"


def decide_one(e: dict[str, Any], rs: Ruleset) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Decide one exam; returns (assessment row, flags)."""
    fired: set[str] = set()
    flags: list[tuple[str, str, str]] = []
    age = e["age_years"]
    woman = e["sex"] == "F"

    # --- basis
    status = e.get("menopausal_status")
    if age < rs.basis.adult_age:
        basis_rule = "BASIS-PEDIATRIC"
        flags.append(
            (
                "PEDIATRIC_NOT_ASSESSED",
                "info",
                f"age below {_fmt(rs.basis.adult_age)}: adult WHO T-score and ISCD Z-score "
                "criteria not applied",
            )
        )
    else:
        if woman:
            if status in ("peri", "post"):
                post = True
            elif status == "pre":
                post = False
            else:
                fired.add("MENO-ASSUMED")
                limit = _fmt(rs.basis.menopause_assumed_age)
                post = age >= rs.basis.menopause_assumed_age
                flags.append(
                    (
                        "MENOPAUSE_ASSUMED",
                        "info",
                        "menopausal status not recorded; assessed as "
                        + (
                            f"postmenopausal (age >= {limit})"
                            if post
                            else f"premenopausal (age < {limit})"
                        ),
                    )
                )
            basis_rule = "BASIS-WHO" if post else "BASIS-ISCD-Z"
        else:
            basis_rule = "BASIS-WHO" if age >= rs.basis.men_who_age else "BASIS-ISCD-Z"
    fired.add(basis_rule)

    # --- sites
    def has(site: str) -> bool:
        return e.get(f"{site}_t") is not None or e.get(f"{site}_z") is not None

    vertebrae = e.get("spine_vertebrae")
    if vertebrae is None:
        vertebrae = 4
    valid = {}
    valid["spine"] = has("spine") and vertebrae >= rs.sites.spine_min_vertebrae
    if has("spine") and not valid["spine"]:
        fired.add("SITE-SPINE-MIN2")
        flags.append(
            (
                "SPINE_TOO_FEW_VERTEBRAE",
                "warning",
                f"lumbar spine result on fewer than {rs.sites.spine_min_vertebrae} vertebrae "
                "is not used for diagnosis",
            )
        )
    valid["total_hip"] = has("total_hip")
    valid["femoral_neck"] = has("femoral_neck")
    hip_ok = valid["total_hip"] or valid["femoral_neck"]
    valid["radius_33"] = has("radius_33") and (not valid["spine"] or not hip_ok)
    if valid["radius_33"]:
        fired.add("SITE-RADIUS")

    def lowest(score: str) -> tuple[float | None, str | None]:
        best, where = None, None
        for site in SITES:  # strict < keeps the first site on a tie
            value = e.get(f"{site}_{score}")
            if valid[site] and value is not None and (best is None or value < best):
                best, where = value, site
        return best, where

    min_t, site_t = lowest("t")
    min_z, site_z = lowest("z")

    out: dict[str, Any] = {
        "exam_id": e["exam_id"],
        "ruleset": rs.label,
        "basis": "not_assessed",
        "diagnostic_site": None,
        "diagnostic_t_score": None,
        "diagnostic_z_score": min_z,
        "who_category": None,
        "z_category": None,
    }
    d = rs.diagnosis
    category = None
    if basis_rule == "BASIS-WHO":
        if min_t is None:
            flags.append(
                (
                    "NO_DIAGNOSTIC_SITE",
                    "warning",
                    "WHO basis needs a T-score but no valid diagnostic site has one",
                )
            )
        else:
            fired.add("SITE-LOWEST")
            out.update(basis="who_t_score", diagnostic_site=site_t, diagnostic_t_score=min_t)
            if min_t <= d.osteoporosis_t:
                category = "osteoporosis"
                fired.add("WHO-OSTEOPOROSIS")
            elif min_t < d.normal_t:
                category = "osteopenia"
                fired.add("WHO-OSTEOPENIA")
            else:
                category = "normal"
                fired.add("WHO-NORMAL")
            out["who_category"] = category
    elif basis_rule == "BASIS-ISCD-Z":
        if min_z is None:
            flags.append(
                (
                    "NO_DIAGNOSTIC_SITE",
                    "warning",
                    "ISCD Z-score basis needs a Z-score but no valid diagnostic site has one",
                )
            )
        else:
            fired.add("SITE-LOWEST")
            out.update(basis="iscd_z_score", diagnostic_site=site_z)
            if min_z <= d.z_threshold:
                out["z_category"] = "below_expected_range"
                fired.add("Z-BELOW")
            else:
                out["z_category"] = "within_expected_range"
                fired.add("Z-WITHIN")

    # --- risk features
    r = rs.risk
    mg, months = e.get("glucocorticoid_mg_day"), e.get("glucocorticoid_months")
    parent_age = e.get("parent_hip_fracture_age")
    checks = {
        "RF-FRAGILITY-FX": _true(e.get("prior_fragility_fracture")),
        "RF-GLUCOCORTICOID": mg is not None
        and months is not None
        and mg >= r.glucocorticoid_mg_day
        and months >= r.glucocorticoid_months,
        "RF-PARENT-HIP-FX": _true(e.get("parent_hip_fracture"))
        and (parent_age is None or parent_age < r.parent_fracture_age),
        "RF-HEIGHT-LOSS": e.get("height_loss_cm") is not None
        and e["height_loss_cm"] > r.height_loss_cm,
        "RF-VERTEBRAL-FX": _true(e.get("vertebral_fracture")),
        "RF-LOW-BMI": e.get("bmi") is not None and e["bmi"] < r.bmi,
        "RF-SMOKING": _true(e.get("current_smoker")),
        "RF-ALCOHOL": e.get("alcohol_units_day") is not None
        and e["alcohol_units_day"] >= r.alcohol_units_day,
    }
    features = [rule for rule, hit in checks.items() if hit]
    if features and age >= r.age_plus:
        features.append("RF-AGE65-PLUS")
    fired.update(features)
    out["high_risk_features"] = features
    out["risk_factor_count"] = len(features)

    not_recorded = [
        name
        for name in (
            "prior_fragility_fracture",
            "glucocorticoid_mg_day",
            "glucocorticoid_months",
            "parent_hip_fracture",
            "height_loss_cm",
            "vertebral_fracture",
            "bmi",
            "current_smoker",
            "alcohol_units_day",
        )
        if e.get(name) is None
        and not (
            name == "glucocorticoid_months" and mg is not None and mg < r.glucocorticoid_mg_day
        )
        and not (
            name == "glucocorticoid_mg_day"
            and months is not None
            and months < r.glucocorticoid_months
        )
    ]

    # --- treatment (sections 4-5): the ruleset's lines in its order, on the WHO basis
    t = rs.treatment
    treatment = "not_applicable"
    fracture = _true(e.get("prior_fragility_fracture"))
    radiographic = _true(e.get("vertebral_fracture"))
    sites = e.get("prior_fracture_sites") or []  # null or empty: not recorded
    on_treatment = _true(e.get("on_treatment"))
    hip, major = e.get("frax_hip_pct"), e.get("frax_major_pct")
    frax_known = hip is not None and major is not None
    frax_high = (hip is not None and hip >= t.frax_hip_pct) or (
        major is not None and major >= t.frax_major_pct)
    if category is not None:
        osteopenia = category == "osteopenia"
        vf_t_ok = t.vertebral_fracture_t_limit is None or min_t <= t.vertebral_fracture_t_limit
        conditions = {
            "TX-FRAGILITY-FX": fracture,
            "TX-OSTEOPOROSIS": category == "osteoporosis",
            "TX-VERTEBRAL-FX": radiographic and category in t.vertebral_fracture_categories
            and vf_t_ok,
            "TX-FRAX-HIGH": osteopenia and frax_high,
            "TX-RISK-FEATURES": osteopenia and bool(features),
            "TX-VERTEBRAL-FX-NORMAL-BMD": category == "normal" and radiographic,
            "TX-FRAX-MISSING": osteopenia and not frax_known,
            "TX-LOW-RISK": osteopenia and frax_known,
            "TX-NORMAL": category == "normal",
            "BHOF-HIP-VERTEBRAL-FX": "hip" in sites or "vertebral" in sites or radiographic,
            "BHOF-FX-SITE-UNKNOWN": fracture and not sites,
            "BHOF-OSTEOPOROSIS": category == "osteoporosis",
            "BHOF-FRAX-HIGH": osteopenia and frax_high,
            "BHOF-FX-OTHER-LOW-BMD": osteopenia and bool(sites)
            and not ({"hip", "vertebral"} & set(sites))
            and bool({"humerus", "pelvis", "forearm"} & set(sites)),
            "BHOF-FRAX-MISSING": osteopenia and not frax_known,
            "BHOF-LOW-RISK": (osteopenia and frax_known) or category == "normal",
        }
        matched: list[tuple[str, str]] = []
        for line in t.lines:
            if not conditions[line.id]:
                continue
            if line.id in FALLBACKS and matched:
                continue  # a fallback only when no line above matched
            matched.append((line.id, line.level))
        fired.update(rule for rule, _ in matched)
        by_lines = matched[0][1] if matched else "not_indicated"
        treatment = by_lines
        if on_treatment:
            fired.add("TX-ON-TREATMENT")
            treatment = "on_treatment"
            if by_lines == "not_indicated" and all(r in FALLBACKS for r, _ in matched):
                flags.append(("ON_TREATMENT_NO_INDICATION", "info",
                              "on treatment, but only a not-indicated line matched: review "
                              "whether therapy should go on (e.g. a drug holiday)"))
        if "TX-VERTEBRAL-FX-NORMAL-BMD" in fired:
            flags.append(("VERTEBRAL_FX_NORMAL_BMD", "warning",
                          "radiographic vertebral fracture at normal BMD: guidelines read a "
                          "vertebral fragility fracture as osteoporosis at any BMD; confirm it "
                          "is a fragility fracture"))
        if "BHOF-FX-SITE-UNKNOWN" in fired:
            flags.append(("FRACTURE_SITE_UNKNOWN", "info",
                          "prior fragility fracture without a recorded site: BHOF treats hip "
                          "and vertebral fractures at any BMD, other sites only with low bone "
                          "mass"))
    out["treatment"] = treatment
    out["first_line_therapy"] = (
        t.first_line_therapy if treatment in ("recommended", "consider") else None
    )

    # --- other outputs (section 6)
    z_fracture = basis_rule == "BASIS-ISCD-Z" and (fracture or radiographic)
    if z_fracture:
        fired.add("WORKUP-Z-FRACTURE")
        flags.append(("FRACTURE_ON_Z_BASIS", "high",
                      "fragility or radiographic vertebral fracture on the Z-score basis: "
                      "refer for specialist assessment"))
    low_z = min_z is not None and min_z <= d.z_threshold
    if low_z:
        fired.add("WORKUP-LOW-Z")
    loss = e.get("height_loss_cm")
    vfa = (
        (loss is not None and loss > r.height_loss_cm)
        or _true(e.get("kyphosis"))
        or _true(e.get("back_pain"))
    )
    if vfa:
        fired.add("VFA-INDICATED")
    out["secondary_cause_workup"] = low_z or z_fracture
    out["vfa_recommended"] = vfa

    # MON lines: each that applies fires; the earliest date wins.
    m = rs.monitoring
    mon: list[tuple[str, int | None]] = []
    treated = on_treatment or treatment == "recommended"
    if treated:
        mon.append(("MON-TREATED", m.treated_months))
    elif category == "osteopenia" or treatment == "consider":
        mon.append(("MON-UNTREATED", m.untreated_months))
    if "RF-GLUCOCORTICOID" in fired and m.glucocorticoid_months is not None:
        earlier = [months for _, months in mon
                   if months is not None and months < m.glucocorticoid_months]
        if not earlier:
            mon.append(("MON-GLUCOCORTICOID", m.glucocorticoid_months))
    if z_fracture and m.z_fracture_months is not None:
        mon.append(("MON-Z-FRACTURE", m.z_fracture_months))
    if category == "normal" and not mon:
        mon.append(("MON-NORMAL", m.normal_months))
    fired.update(rule for rule, _ in mon)
    dates = [add_months(e["exam_date"], months) for _, months in mon if months is not None]
    out["next_dxa_due"] = min(dates) if dates else None

    lifestyle: list[str] = []
    if category in ("osteopenia", "osteoporosis") or treatment in (
            "recommended", "consider", "on_treatment"):
        fired.add("LIFESTYLE")
        lifestyle = [
            "weight_bearing_exercise",
            "fall_prevention",
            "calcium_1000_1200mg",
            "vitamin_d_800_1000iu",
        ]
        if "RF-SMOKING" in fired:
            lifestyle.append("smoking_cessation")
        if "RF-ALCOHOL" in fired:
            lifestyle.append("alcohol_reduction")
    out["lifestyle"] = lifestyle

    out["reasons"] = [rule for rule in CATALOG_ORDER if rule in fired]

    if not_recorded:
        detail = "not recorded: " + ", ".join(not_recorded)
        flags.append(("RISK_FACTORS_INCOMPLETE", "info", detail))
    flag_rows = [
        {"exam_id": e["exam_id"], "code": c, "severity": s, "detail": dt_, "ruleset": rs.label}
        for c, s, dt_ in flags
    ]
    return out, flag_rows
