"""Row-by-row reference implementation of clinical-rules.md version 3 (sections 1-6, 4a,
4b, 5a and 7a), for the rulesets core-2025@3, bhof-2022@3 and oc-2010@3.

Written from the spec text alone, independently of the vectorized engine in
`transforms.rules` (two independent readings of the spec, compared by a hypothesis test
and a 100k-exam test). Tests only. Deliberately plain and slow: a patient's exams (a list
of dicts, canonical columns plus `prior_fracture_sites` as a list) go in, one assessment
dict per exam and the flags come out.

Where the numbers come from
---------------------------
* `SPEC`: the oracle's own constants, one dict per ruleset id, copied from the spec text
  (sections 1-6, 4a, 4b, 5a). This is the default: the ruleset files are being changed
  while this is written, and an oracle that read them would share their mistakes.
* `params_from_ruleset(ruleset)`: a thin optional layer that starts from `SPEC[ruleset.id]`
  and takes the thresholds whose names match the Ruleset model (`basis.*`,
  `diagnosis.*`, `sites.*`, `risk.*`, `treatment.frax_hip_pct`,
  `treatment.frax_major_pct`, `treatment.first_line_therapy`, `monitoring.*`) from the
  loaded file. Line lists, CAROC tables, VHR cuts, FRAX adjustment factors and
  GC-LONG-TERM are always the spec's. `decide_*(..., use_model=True)` uses it.
* TSCORE-FROM-BMD uses the shipped NHANES III reference values (references/nhanes3.toml:
  Hologic-calibrated; the spec names the reference but not its numbers).

Section 7 (serial comparison, bmd_changes, MON-OVERDUE) is not decided per exam by
`decide` and is not covered here.

Readings of ambiguous points are marked `AMBIGUITY:` in the code; the lead's decisions
(same-day visit merge, HX-CENTRAL-SITE reading, VHR-FX-ON-TREATMENT persistence) are
followed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SITES = ("spine", "total_hip", "femoral_neck", "radius_33")  # SITE-LOWEST tie order
CENTRAL = ("spine", "total_hip", "femoral_neck")
HIP_SITES = ("total_hip", "femoral_neck")
FRACTURE_SITE_CODES = ("hip", "vertebral", "humerus", "pelvis", "forearm", "other")

#: TSCORE-FROM-BMD: the shipped NHANES III reference (young-adult mean, SD of BMD),
#: Hologic-calibrated, the same values for women and men (references/nhanes3.toml).
NHANES3 = {"femoral_neck": (0.858, 0.120), "total_hip": (0.942, 0.122),
           "spine": (1.047, 0.110)}
REFERENCE_MANUFACTURER = "hologic"

ORAL = "oral bisphosphonate (alendronate 70 mg weekly, or risedronate)"
SPECIALIST = "specialist review: anabolic or parenteral therapy first"

LIFESTYLE_CODES = ["weight_bearing_exercise", "fall_prevention", "calcium_1000_1200mg",
                   "vitamin_d_800_1000iu"]

#: CAROC-BASAL (section 5a): age row -> (first cut, second cut) of the femoral neck T.
CAROC_WOMEN = {50: (-2.5, -3.8), 55: (-2.5, -3.8), 60: (-2.3, -3.7), 65: (-1.9, -3.5),
               70: (-1.7, -3.2), 75: (-1.2, -2.9), 80: (-0.5, -2.6), 85: (0.1, -2.2)}
CAROC_MEN = {50: (-2.5, -3.9), 55: (-2.5, -3.9), 60: (-2.5, -3.7), 65: (-2.4, -3.7),
             70: (-2.3, -3.7), 75: (-2.3, -3.8), 80: (-2.1, -3.8), 85: (-2.0, -3.8)}
CAROC_STEPS = ("low", "moderate", "high")

_COMMON: dict[str, Any] = {
    # section 1
    "adult_age": 20.0, "men_who_age": 50.0, "menopause_assumed_age": 50.0,
    "meno_unknown_low_bmd_ages": (40.0, 50.0),  # "aged 40-49": 40 <= age < 50
    # section 2
    "osteoporosis_t": -2.5, "normal_t": -1.0, "z_threshold": -2.0, "spine_min_vertebrae": 2,
    # section 3
    "glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 3.0,
    "gc_long_term_mg_day": 2.5,  # GC-LONG-TERM (ACR 2022)
    "gc_vfa_mg_day": 5.0,  # VFA-ISCD-2019
    "parent_fracture_age": 60.0, "height_loss_cm": 4.0, "bmi": 19.0,
    "alcohol_units_day": 3.0, "age_plus": 65.0,
    "gc_review_age": 40.0,  # GC-RISK-REVIEW
    "vfa_women_age": 70.0, "vfa_men_age": 80.0, "vfa_t": -1.0,  # VFA-ISCD-2019
    # sections 4, 4a, 4b
    "frax_hip_pct": 3.0, "frax_major_pct": 20.0, "first_line_therapy": ORAL,
    "vhr_first_line_therapy": SPECIALIST,
    "adj_gc_major": 1.15, "adj_gc_hip": 1.20, "adj_spine_offset": 0.5, "adj_per_unit": 0.1,
    "vhr_t": -3.0, "vhr_frax_major": 30.0, "vhr_frax_hip": 4.5, "vhr_recent_days": 365,
    # section 6
    "treated_months": 12, "untreated_months": 24, "glucocorticoid_months_due": 24,
    "z_fracture_months": 24, "normal_months": None,
    # section 5a
    "caroc_min_age": 50.0, "caroc_high_months": 12, "caroc_moderate_months": 24,
    "caroc_low_months": 60,
}

#: The oracle's own constants per ruleset id, from the spec text. `lines`: (ID, level,
#: fallback?) in evaluation order. `caroc_decides`: the lines are section 5a's.
SPEC: dict[str, dict[str, Any]] = {
    "core-2025": {
        **_COMMON,
        "version": 3,
        "lines": (
            ("TX-FRAGILITY-FX", "recommended", False),
            ("TX-OSTEOPOROSIS", "recommended", False),
            ("TX-VERTEBRAL-FX", "recommended", False),
            ("TX-OSTEOPOROSIS-HISTORY", "recommended", False),
            ("TX-FRAX-HIGH", "consider", False),
            ("TX-RISK-FEATURES", "consider", False),
            ("TX-FRAX-MISSING", "needs_risk_assessment", True),
            ("TX-LOW-RISK", "not_indicated", True),
            ("TX-NORMAL", "not_indicated", True),
        ),
        "caroc_decides": False,
    },
    "bhof-2022": {
        **_COMMON,
        "version": 3,
        "lines": (
            ("BHOF-HIP-VERTEBRAL-FX", "recommended", False),
            ("BHOF-FX-SITE-UNKNOWN", "recommended", False),
            ("BHOF-OSTEOPOROSIS", "recommended", False),
            ("BHOF-OSTEOPOROSIS-HISTORY", "recommended", False),
            ("BHOF-FRAX-HIGH", "recommended", False),
            ("BHOF-FX-OTHER-LOW-BMD", "consider", False),
            ("BHOF-FRAX-MISSING", "needs_risk_assessment", True),
            ("BHOF-LOW-RISK", "not_indicated", True),
        ),
        "caroc_decides": False,
    },
    "oc-2010": {
        **_COMMON,
        "version": 3,
        "lines": (
            ("OC-HIGH", "recommended", False),
            ("OC-MODERATE", "consider", False),
            ("OC-LOW", "not_indicated", True),
            ("OC-NOT-COMPUTABLE", "needs_risk_assessment", True),
        ),
        "caroc_decides": True,
    },
}

#: The not-indicated lines after which a treated patient is flagged
#: ON_TREATMENT_NO_INDICATION (AMBIGUITY: OC-LOW counted with TX-LOW-RISK/TX-NORMAL).
NOT_INDICATED_FALLBACKS = {"TX-LOW-RISK", "TX-NORMAL", "BHOF-LOW-RISK", "OC-LOW"}

RF_ORDER = ("RF-FRAGILITY-FX", "RF-GLUCOCORTICOID", "RF-PARENT-HIP-FX", "RF-HEIGHT-LOSS",
            "RF-VERTEBRAL-FX", "RF-LOW-BMI", "RF-SMOKING", "RF-ALCOHOL", "RF-AGE65-PLUS")
VHR_ORDER = ("VHR-VERY-LOW-T", "VHR-FRAX", "VHR-MULTIPLE-FX", "VHR-FX-ON-TREATMENT",
             "VHR-RECENT-FX", "VHR-FX-GLUCOCORTICOID")
HX_ORDER = ("HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS",
            "HX-CENTRAL-SITE")
CAROC_ORDER = ("CAROC-BASAL", "CAROC-SPINE-HIP", "CAROC-FX", "CAROC-GLUCOCORTICOID",
               "CAROC-BOTH", "CAROC-HIP-VERTEBRAL-FX")
#: The order `reasons` are written in (spec order). The agreement tests compare reasons
#: as sets (sorted): the spec fixes which IDs, not their order.
CATALOG_ORDER = (
    "BASIS-WHO", "BASIS-ISCD-Z", "BASIS-PEDIATRIC", "MENO-ASSUMED", "MENO-UNKNOWN-LOW-BMD",
    "SITE-LOWEST", "SITE-RADIUS", "SITE-SPINE-MIN2",
    "WHO-OSTEOPOROSIS", "WHO-OSTEOPENIA", "WHO-NORMAL", "Z-BELOW", "Z-WITHIN",
    *RF_ORDER, "GC-LONG-TERM",
    "FRAX-ADJ-GLUCOCORTICOID", "FRAX-ADJ-SPINE-OFFSET",
    *(line for spec in SPEC.values() for line, _, _ in spec["lines"]),
    "TX-ON-TREATMENT",
    *VHR_ORDER, "VHR-ESCALATE",
    "WORKUP-LOW-Z", "WORKUP-Z-FRACTURE", "VFA-INDICATED", "VFA-ISCD-2019",
    "MON-TREATED", "MON-UNTREATED", "MON-GLUCOCORTICOID", "MON-Z-FRACTURE", "MON-NORMAL",
    "MON-CAROC", "LIFESTYLE", "GC-RISK-REVIEW",
)

#: Columns of an assessment row, in order: the version-2 columns plus version 3's.
ASSESSMENT_COLUMNS = (
    "exam_id", "ruleset", "basis", "diagnostic_site", "diagnostic_t_score",
    "diagnostic_z_score", "who_category", "z_category", "high_risk_features",
    "risk_factor_count", "treatment", "reasons", "first_line_therapy",
    "secondary_cause_workup", "vfa_recommended", "next_dxa_due", "lifestyle",
    "frax_major_adjusted", "frax_hip_adjusted", "caroc_risk", "caroc_reasons",
    "history_used",
)
#: Flags that exist since version 2 or earlier: their detail text is compared too.
V2_FLAG_CODES = frozenset({
    "PEDIATRIC_NOT_ASSESSED", "MENOPAUSE_ASSUMED", "SPINE_TOO_FEW_VERTEBRAE",
    "NO_DIAGNOSTIC_SITE", "ON_TREATMENT_NO_INDICATION", "FRACTURE_SITE_UNKNOWN",
    "FRACTURE_ON_Z_BASIS", "RISK_FACTORS_INCOMPLETE",
})


# --------------------------------------------------------------------------- helpers


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar month arithmetic, clamping to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def r6(x: float) -> float:
    """Section 2: every comparison with a cut-off is made on the value rounded to 6 dp."""
    return round(x, 6)


def round_half_up(x: float) -> int:
    """FRAX-ADJ-SPINE-OFFSET's d: whole number, halves up (on the 6-dp value)."""
    return int(Decimal(repr(r6(x))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _is_hologic(maker: Any) -> bool:
    """AMBIGUITY: "recorded as Hologic" read as the transform does: the manufacturer text
    contains "hologic" in any case."""
    return isinstance(maker, str) and REFERENCE_MANUFACTURER in maker.lower()


def _merge_bool(values: list[Any]) -> bool | None:
    """HX-SAME-DAY: a yes in any row is yes; else a no is no; else not recorded."""
    if any(v is True for v in values):
        return True
    if any(v is False for v in values):
        return False
    return None


def _merge_max(values: list[Any]) -> Any:
    """HX-SAME-DAY: of numbers (and dates), the highest recorded."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _label(ruleset: Any) -> tuple[str, str]:
    """(id, label) of a ruleset given as an id, an `id@version` or a Ruleset model."""
    if isinstance(ruleset, str):
        rid, _, version = ruleset.partition("@")
        return rid, f"{rid}@{version or SPEC[rid]['version']}"
    return ruleset.id, ruleset.label


def params_from_ruleset(ruleset: Any) -> dict[str, Any]:
    """`SPEC[ruleset.id]` with the thresholds whose names match the Ruleset model taken
    from the loaded file (the optional layer; lines, CAROC, VHR and 4a stay the spec's)."""
    if ruleset.id in SPEC:
        p = dict(SPEC[ruleset.id])
    else:  # a ruleset the spec does not name (a test file): its own lines, core's rest
        fallbacks = {line for spec in SPEC.values() for line, _, fb in spec["lines"] if fb}
        p = {**SPEC["core-2025"], "version": ruleset.version, "caroc_decides": False,
             "lines": tuple((line.id, line.level, line.id in fallbacks)
                            for line in ruleset.treatment.lines)}
    for section in ("basis", "diagnosis", "sites", "risk"):
        for name, value in dict(getattr(ruleset, section)).items():
            if name in p:
                p[name] = value
    for name in ("frax_hip_pct", "frax_major_pct", "first_line_therapy"):
        p[name] = getattr(ruleset.treatment, name)
    mon = ruleset.monitoring
    p.update(treated_months=mon.treated_months, untreated_months=mon.untreated_months,
             glucocorticoid_months_due=mon.glucocorticoid_months,
             z_fracture_months=mon.z_fracture_months, normal_months=mon.normal_months)
    return p


# --------------------------------------------------------------------------- TSCORE


def fill_t_scores(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """TSCORE-FROM-BMD on one row: (the row with T-scores computed, the sites whose
    T-score was not computed because of the manufacturer).

    A site of the reference (spine, total hip, femoral neck) with a BMD and no T-score
    gets T = (BMD - mean) / SD, rounded to 6 dp, only where the manufacturer is recorded
    as Hologic. AMBIGUITY: the radius (no shipped reference) is never computed and never
    flagged; T_SCORE_NOT_COMPUTED is raised only where the manufacturer stopped it.
    Idempotent: a filled row fills nothing more and reports the same sites.
    """
    out = dict(row)
    not_computed = []
    for site, (mean, sd) in NHANES3.items():
        bmd = row.get(f"{site}_bmd")
        if bmd is None or row.get(f"{site}_t") is not None:
            continue
        if _is_hologic(row.get("scanner_manufacturer")):
            out[f"{site}_t"] = round((bmd - mean) / sd, 6)
        else:
            not_computed.append(site)
    return out, not_computed


# --------------------------------------------------------------------------- visits


def _row_sites(row: dict[str, Any], p: dict[str, Any]) -> tuple[dict[str, bool], bool]:
    """Per-row validity before SITE-RADIUS: site -> has a usable result; and whether the
    row's spine was refused by SITE-SPINE-MIN2."""

    def has(site: str) -> bool:
        return row.get(f"{site}_t") is not None or row.get(f"{site}_z") is not None

    vertebrae = row.get("spine_vertebrae")
    vertebrae = 4 if vertebrae is None else vertebrae
    valid = {site: has(site) for site in SITES}
    too_few = valid["spine"] and vertebrae < p["spine_min_vertebrae"]
    if too_few:
        valid["spine"] = False
    return valid, too_few


def _visit(rows: list[dict[str, Any]], p: dict[str, Any]) -> dict[str, Any]:
    """HX-SAME-DAY: the rows of one date merged into the inputs of one visit."""
    v: dict[str, Any] = {"date": rows[0]["exam_date"], "n": len(rows)}
    validity = [_row_sites(r, p) for r in rows]
    v["too_few"] = [too_few for _, too_few in validity]
    row_valid = [valid for valid, _ in validity]
    # per site: lowest valid T and lowest valid Z over the visit's rows
    for site in SITES:
        ts = [r[f"{site}_t"] for r, ok in zip(rows, row_valid, strict=True)
              if ok[site] and r.get(f"{site}_t") is not None]
        zs = [r[f"{site}_z"] for r, ok in zip(rows, row_valid, strict=True)
              if ok[site] and r.get(f"{site}_z") is not None]
        v[f"{site}_t"] = min(ts) if ts else None
        v[f"{site}_z"] = min(zs) if zs else None
        v[f"{site}_valid"] = any(ok[site] for ok in row_valid)
    # SITE-RADIUS at visit level
    hip_ok = v["total_hip_valid"] or v["femoral_neck_valid"]
    v["radius_33_valid"] = v["radius_33_valid"] and (not v["spine_valid"] or not hip_ok)
    v["central"] = any(v[f"{s}_valid"] for s in CENTRAL)

    v["age"] = _merge_max([r.get("age_years") for r in rows])
    v["sex"] = rows[0]["sex"]
    # AMBIGUITY: menopausal status is a code, not a yes/no: any post/peri row makes the
    # visit postmenopausal, else any pre row premenopausal, else not recorded.
    statuses = {r.get("menopausal_status") for r in rows}
    v["menopause"] = ("post" if statuses & {"post", "peri"} else
                      "pre" if "pre" in statuses else None)
    for name in ("vertebral_fracture", "parent_hip_fracture", "current_smoker", "kyphosis",
                 "back_pain", "on_treatment"):
        v[name] = _merge_bool([r.get(name) for r in rows])
    for name in ("bmi", "glucocorticoid_mg_day", "glucocorticoid_months",
                 "parent_hip_fracture_age", "height_loss_cm", "alcohol_units_day",
                 "frax_major_pct", "frax_hip_pct", "last_fracture_date",
                 "treatment_start_date"):
        v[name] = _merge_max([r.get(name) for r in rows])
    sites: set[str] = set()
    for r in rows:
        sites |= set(r.get("prior_fracture_sites") or [])
    v["sites"] = sites
    # a listed site or a fracture date implies a prior fragility fracture (contract 1)
    fx = _merge_bool([r.get("prior_fragility_fracture") for r in rows])
    if sites or v["last_fracture_date"] is not None:
        fx = True
    v["prior_fragility_fracture"] = fx
    # CAROC-BASAL for men: the femoral neck T from BMD on the female reference, Hologic
    mean, sd = NHANES3["femoral_neck"]
    male_t = [round((r["femoral_neck_bmd"] - mean) / sd, 6) for r in rows
              if r.get("femoral_neck_bmd") is not None
              and _is_hologic(r.get("scanner_manufacturer"))]
    v["neck_t_female_ref"] = min(male_t) if male_t else None
    return v


def _lowest(v: dict[str, Any], score: str) -> tuple[float | None, str | None]:
    best, where = None, None
    for site in SITES:  # strict < keeps the first site on a tie
        value = v[f"{site}_{score}"]
        if v[f"{site}_valid"] and value is not None and (best is None or value < best):
            best, where = value, site
    return best, where


def _category(t: float, p: dict[str, Any]) -> str:
    if r6(t) <= p["osteoporosis_t"]:
        return "osteoporosis"
    if r6(t) < p["normal_t"]:
        return "osteopenia"
    return "normal"


def _gc(v: dict[str, Any], mg: float, p: dict[str, Any]) -> bool:
    dose, months = v["glucocorticoid_mg_day"], v["glucocorticoid_months"]
    return (dose is not None and months is not None and dose >= mg
            and months >= p["glucocorticoid_months"])


# --------------------------------------------------------------------------- patient


class _History:
    """What earlier visits of the patient leave to later ones (section 7a)."""

    def __init__(self) -> None:
        self.visits = 0
        self.fracture = False  # fragility fracture (yes or sites) on an earlier visit
        self.radiographic = False
        self.sites: set[str] = set()
        self.osteoporosis = False  # HX-OSTEOPOROSIS-PERSISTS
        self.central_t: float | None = None  # latest central visit's diagnostic T
        self.central_due: dt.date | None = None  # ... and its next_dxa_due
        self.has_central = False
        self.previous_on_treatment = False
        self.fx_on_treatment = False  # VHR-FX-ON-TREATMENT, persists once met


def decide_patient(
    exams: list[dict[str, Any]], ruleset: Any, *, use_model: bool = False
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Decide every exam of one patient; (assessment, flags) per exam, in input order.

    `ruleset`: an id (`core-2025`), `id@version`, or a loaded Ruleset model (its label is
    written; its thresholds are used only with `use_model=True`).
    """
    rid, label = _label(ruleset)
    if not isinstance(ruleset, str) and (use_model or rid not in SPEC):
        p = params_from_ruleset(ruleset)
    else:
        p = SPEC[rid]
    filled = []
    for row in exams:
        new, not_computed = fill_t_scores(row)
        filled.append((new, not_computed))
    by_date: dict[dt.date, list[int]] = {}
    for i, (row, _) in enumerate(filled):
        by_date.setdefault(row["exam_date"], []).append(i)
    results: list[Any] = [None] * len(exams)
    history = _History()
    for day in sorted(by_date):
        indexes = by_date[day]
        rows = [filled[i][0] for i in indexes]
        visit = _visit(rows, p)
        decision, flags = _judge(visit, history, p)
        for i in indexes:
            row, not_computed = filled[i]
            out = {"exam_id": row["exam_id"], "ruleset": label, **decision}
            row_flags = list(flags)
            # the visit's decision, so the visit's rows (SITE-SPINE-MIN2 is in its reasons)
            if any(visit["too_few"]):
                row_flags.append((
                    "SPINE_TOO_FEW_VERTEBRAE", "warning",
                    f"lumbar spine result on fewer than {p['spine_min_vertebrae']} vertebrae "
                    "is not used for diagnosis"))
            # One flag per row naming each site; a radius BMD without a T-score too (the
            # shipped reference has no radius, whatever the manufacturer).
            radius = row.get("radius_33_bmd") is not None and row.get("radius_33_t") is None
            if not_computed or radius:
                maker = row.get("scanner_manufacturer")
                why = ("scanner manufacturer not recorded" if not maker else
                       f"the reference is for Hologic, not {maker}")
                sites = [f"{site}: not converted ({why})" for site in not_computed]
                sites += ["radius_33: no reference values"] if radius else []
                row_flags.append(("T_SCORE_NOT_COMPUTED", "info", "; ".join(sites)))
            if visit["n"] > 1:
                row_flags.append(("SAME_DAY_EXAMS", "info",
                                  f"{visit['n']} exams on {day.isoformat()} judged as one visit"))
            results[i] = (
                {c: out[c] for c in ASSESSMENT_COLUMNS},
                [{"exam_id": row["exam_id"], "code": c, "severity": s, "detail": d,
                  "ruleset": label} for c, s, d in row_flags],
            )
    return results


def decide_one(row: dict[str, Any], ruleset: Any, *, use_model: bool = False
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One exam judged alone (a patient with this single exam)."""
    return decide_patient([row], ruleset, use_model=use_model)[0]


def decide_all(rows: list[dict[str, Any]], ruleset: Any, *, use_model: bool = False
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every exam of a batch, each patient's exams being its history; assessments in input
    order, and all flags."""
    by_patient: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        by_patient.setdefault(row["patient_id"], []).append(i)
    assessments: list[Any] = [None] * len(rows)
    flags: list[dict[str, Any]] = []
    for indexes in by_patient.values():
        decided = decide_patient([rows[i] for i in indexes], ruleset, use_model=use_model)
        for i, (assessment, row_flags) in zip(indexes, decided, strict=True):
            assessments[i] = assessment
            flags += row_flags
    return assessments, flags


# --------------------------------------------------------------------------- one visit


def _judge(v: dict[str, Any], h: _History, p: dict[str, Any]
           ) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The decision of one visit given the patient's history; updates the history."""
    spec = p
    fired: set[str] = set()
    used: set[str] = set()
    flags: list[tuple[str, str, str]] = []
    age = v["age"]
    woman = v["sex"] == "F"
    if v["n"] > 1:
        used.add("HX-SAME-DAY")

    # --- section 1: basis
    status = v["menopause"]
    if age < p["adult_age"]:
        basis_rule = "BASIS-PEDIATRIC"
        flags.append(("PEDIATRIC_NOT_ASSESSED", "info",
                      f"age below {_fmt(p['adult_age'])}: adult WHO T-score and ISCD Z-score "
                      "criteria not applied"))
    else:
        if woman:
            if status is not None:
                post = status == "post"
            else:
                fired.add("MENO-ASSUMED")
                limit = _fmt(p["menopause_assumed_age"])
                post = age >= p["menopause_assumed_age"]
                flags.append(("MENOPAUSE_ASSUMED", "info",
                              "menopausal status not recorded; assessed as "
                              + (f"postmenopausal (age >= {limit})" if post
                                 else f"premenopausal (age < {limit})")))
            basis_rule = "BASIS-WHO" if post else "BASIS-ISCD-Z"
        else:
            basis_rule = "BASIS-WHO" if age >= p["men_who_age"] else "BASIS-ISCD-Z"
    fired.add(basis_rule)

    # --- section 2: sites and category (measured)
    if any(v["too_few"]):
        fired.add("SITE-SPINE-MIN2")
    if v["radius_33_valid"]:
        fired.add("SITE-RADIUS")
    min_t, site_t = _lowest(v, "t")
    min_z, site_z = _lowest(v, "z")
    out: dict[str, Any] = {
        "basis": "not_assessed", "diagnostic_site": None, "diagnostic_t_score": None,
        "diagnostic_z_score": min_z, "who_category": None, "z_category": None,
    }
    category = None
    if basis_rule == "BASIS-WHO":
        if min_t is None:
            flags.append(("NO_DIAGNOSTIC_SITE", "warning",
                          "WHO basis needs a T-score but no valid diagnostic site has one"))
        else:
            fired.add("SITE-LOWEST")
            category = _category(min_t, p)
            fired.add({"osteoporosis": "WHO-OSTEOPOROSIS", "osteopenia": "WHO-OSTEOPENIA",
                       "normal": "WHO-NORMAL"}[category])
            out.update(basis="who_t_score", diagnostic_site=site_t, diagnostic_t_score=min_t,
                       who_category=category)
    elif basis_rule == "BASIS-ISCD-Z":
        if min_z is None:
            flags.append(("NO_DIAGNOSTIC_SITE", "warning",
                          "ISCD Z-score basis needs a Z-score but no valid diagnostic site "
                          "has one"))
        else:
            fired.add("SITE-LOWEST")
            below = r6(min_z) <= p["z_threshold"]
            fired.add("Z-BELOW" if below else "Z-WITHIN")
            out.update(basis="iscd_z_score", diagnostic_site=site_z,
                       z_category="below_expected_range" if below else "within_expected_range")
    who = category is not None  # "on the WHO basis": assessed on the T-score

    # MENO-UNKNOWN-LOW-BMD (measured lowest valid T)
    lo, hi = p["meno_unknown_low_bmd_ages"]
    if (woman and status is None and lo <= age < hi and min_t is not None
            and r6(min_t) <= p["osteoporosis_t"]):
        fired.add("MENO-UNKNOWN-LOW-BMD")
        flags.append(("MENOPAUSE_UNKNOWN_LOW_BMD", "warning",
                      "menopausal status unknown at 40-49 with a T-score <= -2.5: on the WHO "
                      "basis this would read as osteoporosis; confirm the status"))

    # --- section 7a: fractures carried from earlier visits
    own_fx, own_vf, own_sites = v["prior_fragility_fracture"], v["vertebral_fracture"], v["sites"]
    fracture = own_fx is True or h.fracture
    radiographic = own_vf is True or h.radiographic
    sites = own_sites | h.sites
    if (h.fracture and own_fx is not True) or (h.radiographic and own_vf is not True) or (
            h.sites - own_sites):
        used.add("HX-FRACTURE-PERSISTS")
    if (h.fracture and own_fx is False) or (h.radiographic and own_vf is False):
        flags.append(("FRACTURE_HISTORY_CONFLICT", "warning",
                      "an earlier exam recorded a fracture that this exam records as no: the "
                      "fracture still counts"))

    # --- section 3: features (fracture inputs with history)
    gc = _gc(v, p["glucocorticoid_mg_day"], p)
    gc_long = _gc(v, p["gc_long_term_mg_day"], p)
    if gc_long:  # not a feature, but a rule that fired: its ID is in `reasons`
        fired.add("GC-LONG-TERM")
    parent_age = v["parent_hip_fracture_age"]
    checks = {
        "RF-FRAGILITY-FX": fracture,
        "RF-GLUCOCORTICOID": gc,
        "RF-PARENT-HIP-FX": v["parent_hip_fracture"] is True
        and (parent_age is None or parent_age < p["parent_fracture_age"]),
        "RF-HEIGHT-LOSS": v["height_loss_cm"] is not None
        and v["height_loss_cm"] > p["height_loss_cm"],
        "RF-VERTEBRAL-FX": radiographic,
        "RF-LOW-BMI": v["bmi"] is not None and v["bmi"] < p["bmi"],
        "RF-SMOKING": v["current_smoker"] is True,
        "RF-ALCOHOL": v["alcohol_units_day"] is not None
        and v["alcohol_units_day"] >= p["alcohol_units_day"],
    }
    features = [rule for rule, hit in checks.items() if hit]
    if features and age >= p["age_plus"]:
        features.append("RF-AGE65-PLUS")
    fired.update(features)
    out["high_risk_features"] = features
    out["risk_factor_count"] = len(features)

    # AMBIGUITY: "not recorded" is judged on the visit's inputs after history (a blank
    # fracture cell that inherits a yes is recorded).
    recorded = {
        "prior_fragility_fracture": True if fracture else own_fx,
        "glucocorticoid_mg_day": v["glucocorticoid_mg_day"],
        "glucocorticoid_months": v["glucocorticoid_months"],
        "parent_hip_fracture": v["parent_hip_fracture"],
        "height_loss_cm": v["height_loss_cm"],
        "vertebral_fracture": True if radiographic else own_vf,
        "bmi": v["bmi"],
        "current_smoker": v["current_smoker"],
        "alcohol_units_day": v["alcohol_units_day"],
    }
    mg, months = v["glucocorticoid_mg_day"], v["glucocorticoid_months"]
    not_recorded = [
        name for name, value in recorded.items()
        if value is None
        and not (name == "glucocorticoid_months" and mg is not None
                 and mg < p["glucocorticoid_mg_day"])
        and not (name == "glucocorticoid_mg_day" and months is not None
                 and months < p["glucocorticoid_months"])
    ]

    # --- section 4a: FRAX adjustments (WHO basis only)
    major, hip = v["frax_major_pct"], v["frax_hip_pct"]
    adj_major = adj_hip = None
    if who:
        adj_major, adj_hip = major, hip
        if gc:
            changed = False
            if major is not None:
                adj_major = major * p["adj_gc_major"]
                changed |= adj_major != major
            if hip is not None:
                adj_hip = hip * p["adj_gc_hip"]
                changed |= adj_hip != hip
            if changed:
                fired.add("FRAX-ADJ-GLUCOCORTICOID")
        spine, neck = v["spine_t"], v["femoral_neck_t"]
        if spine is not None and neck is not None and v["spine_valid"]:
            diff = r6(neck - spine)
            if diff >= p["adj_spine_offset"] and adj_major is not None:
                d = round_half_up(diff)
                new = adj_major * (1 + p["adj_per_unit"] * d)
                if new != adj_major:
                    fired.add("FRAX-ADJ-SPINE-OFFSET")
                adj_major = new
    out["frax_major_adjusted"] = adj_major
    out["frax_hip_adjusted"] = adj_hip

    # --- HX-CENTRAL-SITE: a forearm-only visit reads the lower T for its decisions
    forearm_only = not v["central"]
    carried = None
    if forearm_only and h.has_central:
        carried = h.central_t
    eff_t = min_t
    if who and carried is not None and carried < min_t:
        eff_t = carried
        used.add("HX-CENTRAL-SITE")
    eff_cat = _category(eff_t, p) if who else None

    # --- section 5a: CAROC (WHO basis, every ruleset)
    caroc, caroc_reasons = _caroc(v, p, who, woman, age, fracture, radiographic, sites, gc)
    out["caroc_risk"] = caroc
    out["caroc_reasons"] = caroc_reasons

    # --- sections 4, 5, 5a: the treatment lines (WHO basis)
    on_treatment = v["on_treatment"] is True
    frax_known = hip is not None and major is not None
    frax_high = (adj_hip is not None and r6(adj_hip) >= p["frax_hip_pct"]) or (
        adj_major is not None and r6(adj_major) >= p["frax_major_pct"])
    treatment = "not_applicable"
    matched: list[tuple[str, str, bool]] = []
    if who:
        osteopenia = eff_cat == "osteopenia"
        hip_or_vertebral = "hip" in sites or "vertebral" in sites or radiographic
        conditions = {
            "TX-FRAGILITY-FX": fracture,
            "TX-OSTEOPOROSIS": eff_cat == "osteoporosis",
            "TX-VERTEBRAL-FX": radiographic,
            "TX-OSTEOPOROSIS-HISTORY": h.osteoporosis,
            "TX-FRAX-HIGH": osteopenia and frax_high,
            "TX-RISK-FEATURES": osteopenia and not frax_known and bool(features),
            "TX-FRAX-MISSING": osteopenia and not frax_known,
            "TX-LOW-RISK": osteopenia and frax_known,
            "TX-NORMAL": eff_cat == "normal",
            "BHOF-HIP-VERTEBRAL-FX": hip_or_vertebral,
            "BHOF-FX-SITE-UNKNOWN": fracture and not sites,
            "BHOF-OSTEOPOROSIS": eff_cat == "osteoporosis",
            "BHOF-OSTEOPOROSIS-HISTORY": h.osteoporosis,
            "BHOF-FRAX-HIGH": osteopenia and frax_high,
            "BHOF-FX-OTHER-LOW-BMD": osteopenia and bool(sites)
            and not ({"hip", "vertebral"} & sites) and bool({"humerus", "pelvis", "forearm"}
                                                            & sites),
            "BHOF-FRAX-MISSING": osteopenia and not frax_known,
            "BHOF-LOW-RISK": (osteopenia and frax_known) or eff_cat == "normal",
            "OC-HIGH": caroc == "high",
            "OC-MODERATE": caroc == "moderate",
            "OC-LOW": caroc == "low",
            "OC-NOT-COMPUTABLE": caroc is None,
        }
        for line, level, fallback in spec["lines"]:
            if not conditions.get(line, False):  # unknown line: never fires
                continue
            if fallback and matched:
                # section 4's one exception: TX-FRAX-MISSING's ID beside TX-RISK-FEATURES
                if line == "TX-FRAX-MISSING" and any(m == "TX-RISK-FEATURES"
                                                     for m, _, _ in matched):
                    matched.append((line, level, fallback))
                continue
            matched.append((line, level, fallback))
        fired.update(line for line, _, _ in matched)
        if h.osteoporosis and any(m.endswith("-OSTEOPOROSIS-HISTORY") for m, _, _ in matched):
            used.add("HX-OSTEOPOROSIS-PERSISTS")
        treatment = matched[0][1] if matched else "not_indicated"
        if "TX-VERTEBRAL-FX" in fired and eff_cat == "normal":
            flags.append(("VERTEBRAL_FX_NORMAL_BMD", "warning",
                          "radiographic vertebral fracture at normal BMD: guidelines read a "
                          "vertebral fragility fracture as osteoporosis at any BMD; confirm it "
                          "is a fragility fracture"))
        if "BHOF-FX-SITE-UNKNOWN" in fired:
            flags.append(("FRACTURE_SITE_UNKNOWN", "info",
                          "prior fragility fracture without a recorded site: BHOF treats hip "
                          "and vertebral fractures at any BMD, other sites only with low bone "
                          "mass"))

    # --- section 4b: very high risk (state updated on every visit)
    new_fracture = (
        (own_fx is True and not h.fracture and not own_sites)
        or bool(own_sites - h.sites)
        or (own_vf is True and not h.radiographic)
    )
    lfd, tsd = v["last_fracture_date"], v["treatment_start_date"]
    if (h.visits > 0 and h.previous_on_treatment and new_fracture) or (
            lfd is not None and tsd is not None and lfd > tsd):
        h.fx_on_treatment = True
    vhr: list[str] = []
    if who:
        count = len(sites | ({"vertebral"} if radiographic else set()))
        vhr_checks = {
            "VHR-VERY-LOW-T": r6(eff_t) < p["vhr_t"],
            "VHR-FRAX": (adj_major is not None and r6(adj_major) > p["vhr_frax_major"])
            or (adj_hip is not None and r6(adj_hip) > p["vhr_frax_hip"]),
            "VHR-MULTIPLE-FX": count >= 2,
            "VHR-FX-ON-TREATMENT": h.fx_on_treatment,
            "VHR-RECENT-FX": lfd is not None
            and (v["date"] - lfd).days <= p["vhr_recent_days"],
            "VHR-FX-GLUCOCORTICOID": fracture and gc,
        }
        vhr = [line for line, hit in vhr_checks.items() if hit]
    if vhr:
        # AMBIGUITY: the VHR line IDs are written to `reasons` too (rules that fired).
        fired.update(vhr)
        flags.append(("VERY_HIGH_RISK", "high", "very high risk: " + ", ".join(vhr)))

    if who:
        by_lines = treatment
        if on_treatment:
            fired.add("TX-ON-TREATMENT")
            treatment = "on_treatment"
            # AMBIGUITY: not raised for a very-high-risk exam (it is no longer "only a
            # not-indicated line").
            if (not vhr and by_lines == "not_indicated" and matched
                    and all(m in NOT_INDICATED_FALLBACKS for m, _, _ in matched)):
                flags.append(("ON_TREATMENT_NO_INDICATION", "info",
                              "on treatment, but only a not-indicated line matched: review "
                              "whether therapy should go on (e.g. a drug holiday)"))
        elif vhr and treatment in ("consider", "needs_risk_assessment", "not_indicated"):
            treatment = "recommended"
            fired.add("VHR-ESCALATE")
    out["treatment"] = treatment
    if treatment == "recommended" and vhr:
        out["first_line_therapy"] = p["vhr_first_line_therapy"]
    elif treatment in ("recommended", "consider"):
        out["first_line_therapy"] = p["first_line_therapy"]
    else:
        out["first_line_therapy"] = None

    # --- section 6
    z_rule = basis_rule == "BASIS-ISCD-Z"
    z_fracture = z_rule and (fracture or radiographic)
    if z_fracture:
        fired.add("WORKUP-Z-FRACTURE")
        flags.append(("FRACTURE_ON_Z_BASIS", "high",
                      "fragility or radiographic vertebral fracture on the Z-score basis: "
                      "refer for specialist assessment"))
    low_z = min_z is not None and r6(min_z) <= p["z_threshold"]
    if low_z:
        fired.add("WORKUP-LOW-Z")
    out["secondary_cause_workup"] = low_z or z_fracture
    loss = v["height_loss_cm"]
    height = loss is not None and loss > p["height_loss_cm"]
    vfa_article = height or v["kyphosis"] is True or v["back_pain"] is True
    if vfa_article:
        fired.add("VFA-INDICATED")
    vfa_iscd = who and r6(min_t) < p["vfa_t"] and (
        (woman and age >= p["vfa_women_age"]) or (not woman and age >= p["vfa_men_age"])
        or height or _gc(v, p["gc_vfa_mg_day"], p)
        or ("vertebral" in sites and v["vertebral_fracture"] is None and not radiographic))
    if vfa_iscd:
        fired.add("VFA-ISCD-2019")
    out["vfa_recommended"] = vfa_article or vfa_iscd
    if z_rule and age >= p["gc_review_age"] and gc_long:
        fired.add("GC-RISK-REVIEW")
        flags.append(("GLUCOCORTICOID_RISK_REVIEW", "warning",
                      "long-term glucocorticoids from age 40 on the Z-score basis: assess "
                      "fracture risk (ACR 2022)"))

    # MON lines: each that gives a date adds its ID; the earliest date wins.
    mon: list[tuple[str, int | None]] = []
    treated = on_treatment or treatment == "recommended"
    if spec["caroc_decides"] and who:
        # MON-CAROC replaces MON-UNTREATED and MON-NORMAL only: a treated exam gets
        # MON-TREATED's date and MON-CAROC's "treated or high" one (both IDs listed).
        if treated:
            mon.append(("MON-TREATED", p["treated_months"]))
        if treated or caroc == "high":
            months_due = p["caroc_high_months"]
        elif caroc == "low":
            months_due = p["caroc_low_months"]
        else:
            months_due = p["caroc_moderate_months"]
        mon.append(("MON-CAROC", months_due))
    elif treated:
        mon.append(("MON-TREATED", p["treated_months"]))
    elif not spec["caroc_decides"] and (category == "osteopenia" or treatment == "consider"):
        mon.append(("MON-UNTREATED", p["untreated_months"]))
    if gc_long and p["glucocorticoid_months_due"] is not None:
        mon.append(("MON-GLUCOCORTICOID", p["glucocorticoid_months_due"]))
    if z_fracture and p["z_fracture_months"] is not None:
        mon.append(("MON-Z-FRACTURE", p["z_fracture_months"]))
    if not spec["caroc_decides"] and category == "normal" and not mon:
        mon.append(("MON-NORMAL", p["normal_months"]))
    fired.update(rule for rule, _ in mon)
    dates = [add_months(v["date"], m) for _, m in mon if m is not None]
    due = min(dates) if dates else None
    if forearm_only and h.has_central and h.central_due is not None and (
            due is None or h.central_due < due):
        # HX-CENTRAL-SITE: never later than the latest central visit's date.
        # AMBIGUITY: listed in history_used here too (it set the date).
        due = h.central_due
        used.add("HX-CENTRAL-SITE")
    out["next_dxa_due"] = due

    lifestyle: list[str] = []
    if category in ("osteopenia", "osteoporosis") or treatment in (
            "recommended", "consider", "on_treatment") or gc_long:
        fired.add("LIFESTYLE")
        lifestyle = list(LIFESTYLE_CODES)
        if "RF-SMOKING" in fired:
            lifestyle.append("smoking_cessation")
        if "RF-ALCOHOL" in fired:
            lifestyle.append("alcohol_reduction")
    out["lifestyle"] = lifestyle

    out["reasons"] = [rule for rule in CATALOG_ORDER if rule in fired]
    out["history_used"] = [rule for rule in HX_ORDER if rule in used]

    if not_recorded:
        flags.append(("RISK_FACTORS_INCOMPLETE", "info",
                      "not recorded: " + ", ".join(not_recorded)))

    # --- what this visit leaves to later ones
    h.visits += 1
    h.fracture = fracture
    h.radiographic = radiographic
    h.sites = sites
    if who and r6(min_t) <= p["osteoporosis_t"]:
        h.osteoporosis = True
    if v["central"]:
        h.has_central = True
        h.central_t = min_t if who else None
        h.central_due = due
    h.previous_on_treatment = on_treatment
    return out, flags


def _caroc(v: dict[str, Any], p: dict[str, Any], who: bool, woman: bool, age: float,
           fracture: bool, radiographic: bool, sites: set[str], gc: bool
           ) -> tuple[str | None, list[str]]:
    """Section 5a: (caroc_risk, caroc_reasons); null and [] off the WHO basis or < 50."""
    if not who or age < p["caroc_min_age"]:
        return None, []
    reasons: list[str] = []
    row = min(85, int(age // 5) * 5)
    neck = v["femoral_neck_t"] if woman else v["neck_t_female_ref"]
    category: str | None = None
    if neck is not None:
        first, second = (CAROC_WOMEN if woman else CAROC_MEN)[row]
        t = r6(neck)
        category = "low" if t > first else "high" if t < second else "moderate"
        reasons.append("CAROC-BASAL")
    spine_hip = [v[f"{s}_t"] for s in ("spine", "total_hip")
                 if v[f"{s}_valid"] and v[f"{s}_t"] is not None]
    if category in (None, "low") and any(r6(t) <= p["osteoporosis_t"] for t in spine_hip):
        category = "moderate"
        reasons.append("CAROC-SPINE-HIP")
    if category is not None:
        step = CAROC_STEPS.index(category)
        if fracture:
            step += 1
            reasons.append("CAROC-FX")
        if gc:
            step += 1
            reasons.append("CAROC-GLUCOCORTICOID")
        category = CAROC_STEPS[min(step, 2)]
        if fracture and gc:
            category = "high"
            reasons.append("CAROC-BOTH")
    count = len(sites | ({"vertebral"} if radiographic else set()))
    if "hip" in sites or "vertebral" in sites or radiographic or count >= 2:
        category = "high"
        reasons.append("CAROC-HIP-VERTEBRAL-FX")
    return category, reasons
