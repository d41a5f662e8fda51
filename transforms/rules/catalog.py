"""The one rule catalog: every rule ID with its wording, parameters, source and departure.

Clinicians review the rules here (`dxa rules`), and the decision code takes its `reasons`
order from it, so the documentation and the behaviour cannot drift apart. The wording
states each interpretation the spec left open (clinical-rules.md is authoritative).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from transforms.rules.ruleset import Ruleset

ARTICLE = "2025 guideline summary (source-article.txt)"
ISCD = "ISCD Adult Official Positions 2019/2023"
WHO = "WHO 1994"
BHOF = "BHOF Clinician's Guide 2022"
FRAX = "FRAX"
SPEC = "clinical-rules.md"


@dataclass(frozen=True)
class Rule:
    """One catalog entry. `params` are dotted ruleset keys the rule reads."""

    id: str
    section: str
    wording: str
    params: tuple[str, ...]
    source: str
    departure: str | None = None
    #: Where the rule is decided: the rules engine, or the serial-exam (monitoring) step.
    implemented_in: str = "transforms.rules"


_DEPART_FRAX = (
    "Article: FRAX hip >= 5%. Guidelines: hip >= 3% (BHOF 2022; ruleset bhof-2022)."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "BASIS-WHO", "basis",
        "Woman, postmenopausal (perimenopausal counts as postmenopausal), aged >= adult "
        "age; or man aged >= men_who_age: classified by T-score with WHO categories. When "
        "no valid site has a T-score the basis becomes not_assessed (flag "
        "NO_DIAGNOSTIC_SITE, warning; treatment not_applicable) and this ID still appears "
        "in reasons. Sex is F or M (validated upstream); any value other than F follows "
        "the men's rule.",
        ("basis.adult_age", "basis.men_who_age"), f"{ISCD}; {WHO}",
    ),
    Rule(
        "BASIS-ISCD-Z", "basis",
        "Premenopausal woman, or man from adult age to below men_who_age: classified by "
        "the lowest valid Z-score in ISCD wording; no WHO category, diagnostic T-score "
        "null, treatment not_applicable (BMD drug thresholds do not apply). No valid "
        "Z-score: basis not_assessed, flag NO_DIAGNOSTIC_SITE.",
        ("basis.adult_age", "basis.men_who_age"), ISCD,
    ),
    Rule(
        "BASIS-PEDIATRIC", "basis",
        "Age below adult age: not assessed (basis not_assessed, treatment not_applicable), "
        "flag PEDIATRIC_NOT_ASSESSED (info). Sites, risk features, WORKUP-LOW-Z, "
        "VFA-INDICATED and MON-TREATED are still evaluated and reported.",
        ("basis.adult_age",), ISCD,
    ),
    Rule(
        "MENO-ASSUMED", "basis",
        "Adult woman whose menopausal status is missing, unknown or not one of "
        "pre/peri/post: treated as postmenopausal from menopause_assumed_age, else "
        "premenopausal; flag MENOPAUSE_ASSUMED (info). Not applied below adult age, where "
        "the status does not matter.",
        ("basis.menopause_assumed_age",), SPEC,
    ),
    Rule(
        "SITE-LOWEST", "site",
        "The diagnostic T-score is the lowest T-score among the valid sites (left and "
        "right hip both count); ties go to spine, total hip, femoral neck, radius in that "
        "order. On the Z basis the same selection is applied to Z-scores and "
        "diagnostic_site is the site of the lowest valid Z. Fires whenever a diagnostic "
        "site is recorded. diagnostic_z_score always carries the lowest valid Z (any "
        "basis). Scores are used as reported, never re-rounded.",
        (), ISCD,
    ),
    Rule(
        "SITE-RADIUS", "site",
        "The 33% radius is a valid site only when the exam has no valid spine result, or "
        "no valid hip result (neither femoral neck nor total hip). A site has a result "
        "when it has a T- or Z-score. Fires when the radius is admitted as a valid site "
        "(at any basis).",
        (), ISCD,
    ),
    Rule(
        "SITE-SPINE-MIN2", "site",
        "A lumbar spine result (T- or Z-score) built on fewer than spine_min_vertebrae "
        "vertebrae is not valid for diagnosis; fires and flags SPINE_TOO_FEW_VERTEBRAE "
        "(warning). spine_vertebrae not recorded means 4 (L1-L4). Trochanter, Ward's area "
        "and single vertebrae are never diagnostic.",
        ("sites.spine_min_vertebrae",), ISCD,
    ),
    Rule(
        "WHO-OSTEOPOROSIS", "category",
        "WHO basis: diagnostic T <= osteoporosis_t -> osteoporosis.",
        ("diagnosis.osteoporosis_t",), WHO,
    ),
    Rule(
        "WHO-OSTEOPENIA", "category",
        "WHO basis: osteoporosis_t < T < normal_t -> osteopenia (low bone mass).",
        ("diagnosis.osteoporosis_t", "diagnosis.normal_t"), WHO,
    ),
    Rule(
        "WHO-NORMAL", "category",
        "WHO basis: T >= normal_t -> normal.",
        ("diagnosis.normal_t",), WHO,
    ),
    Rule(
        "Z-BELOW", "category",
        "Z basis: lowest valid Z <= z_threshold -> below_expected_range.",
        ("diagnosis.z_threshold",), ISCD,
    ),
    Rule(
        "Z-WITHIN", "category",
        "Z basis: lowest valid Z > z_threshold -> within_expected_range.",
        ("diagnosis.z_threshold",), ISCD,
    ),
    Rule(
        "RF-FRAGILITY-FX", "risk",
        "Prior fragility fracture recorded as true. Every RF rule: an input that was not "
        "recorded (null) never fires; RISK_FACTORS_INCOMPLETE (info) lists the inputs "
        "that were not recorded. Features are reported on every basis; they change the "
        "treatment only on the WHO basis.",
        (), ARTICLE,
    ),
    Rule(
        "RF-GLUCOCORTICOID", "risk",
        "Glucocorticoid dose >= glucocorticoid_mg_day mg prednisone-equivalent per day for "
        ">= glucocorticoid_months months (both recorded).",
        ("risk.glucocorticoid_mg_day", "risk.glucocorticoid_months"), ARTICLE,
        "Article: >= 7.5 mg/day for >= 3 months. FRAX counts >= 5 mg/day for >= 3 "
        "months; 7.5 mg is its upward-adjustment tier.",
    ),
    Rule(
        "RF-PARENT-HIP-FX", "risk",
        "Parent hip fracture, where the parent's age at the fracture is not recorded or "
        "< parent_fracture_age.",
        ("risk.parent_fracture_age",), ARTICLE,
        "Article: maternal hip fracture before 60. FRAX: either parent, any age.",
    ),
    Rule(
        "RF-HEIGHT-LOSS", "risk",
        "Height loss > height_loss_cm cm.",
        ("risk.height_loss_cm",), ARTICLE,
    ),
    Rule(
        "RF-VERTEBRAL-FX", "risk",
        "Radiographic (morphometric) vertebral fracture recorded as true.",
        (), ARTICLE,
    ),
    Rule(
        "RF-LOW-BMI", "risk",
        "BMI < bmi kg/m2 (BMI from height and weight where not given; upstream).",
        ("risk.bmi",), ARTICLE,
        "Article: BMI < 19. FRAX uses BMI as a continuous input.",
    ),
    Rule(
        "RF-SMOKING", "risk",
        "Current smoker recorded as true.",
        (), ARTICLE,
    ),
    Rule(
        "RF-ALCOHOL", "risk",
        "Alcohol >= alcohol_units_day units per day (FRAX definition of excessive).",
        ("risk.alcohol_units_day",), f"{ARTICLE}; {FRAX}",
    ),
    Rule(
        "RF-AGE65-PLUS", "risk",
        "Age >= age_plus and at least one other RF feature fired. risk_factor_count "
        "counts every RF rule that fired, this one included.",
        ("risk.age_plus",), ARTICLE,
    ),
    Rule(
        "TX-FRAGILITY-FX", "treatment",
        "WHO basis, prior fragility fracture (any T-score). TX lines are evaluated in "
        "order on the WHO basis: the first matching line sets treatment, every matching "
        "line adds its ID. A line whose level is none is off (never matches). If no line "
        "matches (only possible when a ruleset switches lines off): not_indicated. Other "
        "bases: not_applicable.",
        ("treatment.fragility_fracture",), f"{ARTICLE}; {BHOF}",
    ),
    Rule(
        "TX-OSTEOPOROSIS", "treatment",
        "WHO osteoporosis.",
        ("treatment.osteoporosis",), f"{ARTICLE}; {BHOF}",
    ),
    Rule(
        "TX-VERTEBRAL-FX", "treatment",
        "Radiographic vertebral fracture with a WHO category in "
        "vertebral_fracture_categories and T <= vertebral_fracture_t_limit (none: any T).",
        (
            "treatment.vertebral_fracture",
            "treatment.vertebral_fracture_categories",
            "treatment.vertebral_fracture_t_limit",
        ),
        ARTICLE,
        "Article: consider if osteopenia with T <= -1.6. BHOF: a hip or vertebral "
        "fragility fracture qualifies at any T-score (ruleset bhof-2022).",
    ),
    Rule(
        "TX-FRAX-HIGH", "treatment",
        "Osteopenia with FRAX hip >= frax_hip_pct or FRAX major osteoporotic >= "
        "frax_major_pct (either one recorded and high is enough).",
        ("treatment.frax_high", "treatment.frax_hip_pct", "treatment.frax_major_pct"),
        ARTICLE, _DEPART_FRAX,
    ),
    Rule(
        "TX-RISK-FEATURES", "treatment",
        "Osteopenia and at least one high-risk feature (risk_factor_count >= 1); off "
        "(none) where features are reported but do not change the decision (bhof-2022).",
        ("treatment.risk_features",), ARTICLE,
    ),
    Rule(
        "TX-FRAX-MISSING", "treatment",
        "Osteopenia, no TX line above matched, FRAX hip or major not recorded -> "
        "needs_risk_assessment.",
        (), ARTICLE,
    ),
    Rule(
        "TX-LOW-RISK", "treatment",
        "Osteopenia, no TX line above matched, both FRAX values recorded (and so low) -> "
        "not_indicated.",
        ("treatment.frax_hip_pct", "treatment.frax_major_pct"), ARTICLE,
    ),
    Rule(
        "TX-NORMAL", "treatment",
        "Normal BMD and no fragility fracture -> not_indicated. Read literally (every "
        "matching line is a reason), it also adds its ID when an earlier line already set "
        "the treatment: under bhof-2022 a radiographic vertebral fracture with normal BMD "
        "is recommended, with both TX-VERTEBRAL-FX and TX-NORMAL in reasons. "
        "first_line_therapy is the ruleset's text where treatment is recommended or "
        "consider, else null.",
        ("treatment.first_line_therapy",), ARTICLE,
    ),
    Rule(
        "WORKUP-LOW-Z", "output",
        "secondary_cause_workup: any valid site with Z <= z_threshold, at any age and on "
        "any basis (the article's caveat for the young; a normal Z reads as 'no secondary "
        "cause suggested').",
        ("diagnosis.z_threshold",), f"{ARTICLE}; {ISCD}",
    ),
    Rule(
        "VFA-INDICATED", "output",
        "vfa_recommended: height loss > height_loss_cm, kyphosis, or back pain (any "
        "basis).",
        ("risk.height_loss_cm",), ARTICLE,
        "Article: height loss, kyphosis or back pain. ISCD adds T < -1.0 with age, "
        "height-loss or glucocorticoid criteria.",
    ),
    Rule(
        "MON-TREATED", "output",
        "next_dxa_due = exam date + treated_months when on_treatment is true or treatment "
        "is recommended (any basis). Months are calendar months (end of month clamps).",
        ("monitoring.treated_months",), ARTICLE,
    ),
    Rule(
        "MON-UNTREATED", "output",
        "Osteopenia, not on treatment (not recorded counts as not) and treatment not "
        "recommended: next_dxa_due = exam date + untreated_osteopenia_months.",
        ("monitoring.untreated_osteopenia_months",), ARTICLE,
        "Article: 2 years. Guidelines: interval by T-score, ~15 years (T > -1.5), ~5 "
        "(-1.5 to -1.99), ~1 (-2.0 to -2.49) (Gourlay, NEJM 2012).",
    ),
    Rule(
        "MON-NORMAL", "output",
        "Normal BMD and MON-TREATED did not apply: next_dxa_due = exam date + "
        "normal_months, or no date when the ruleset sets none (core-2025).",
        ("monitoring.normal_months",), SPEC,
    ),
    Rule(
        "LIFESTYLE", "output",
        "Osteopenia or osteoporosis: weight_bearing_exercise, fall_prevention, "
        "calcium_1000_1200mg, vitamin_d_800_1000iu; plus smoking_cessation when "
        "RF-SMOKING fired and alcohol_reduction when RF-ALCOHOL fired. Otherwise an empty "
        "list.",
        (), ARTICLE,
    ),
    Rule(
        "CHG-SAME-SCANNER", "serial",
        "Compare an exam with the patient's previous exam at the same site only when both "
        "were made on the same scanner (serial number); otherwise flag SCANNER_CHANGED and "
        "no change verdict.",
        (), f"{ARTICLE}; {ISCD}", implemented_in="serial-exam monitoring step",
    ),
    Rule(
        "CHG-BMD-NOT-T", "serial",
        "Compare absolute BMD (g/cm2), never T-scores.",
        (), f"{ARTICLE}; {ISCD}", implemented_in="serial-exam monitoring step",
    ),
    Rule(
        "CHG-LSC", "serial",
        "LSC = 2.77 x precision error (%CV) of that scanner and site; a change is "
        "significant when abs(% change) > LSC. Default precision: spine 1.9%, total hip "
        "1.8%, femoral neck 2.5%.",
        (), ISCD,
        "Article: fixed LSC 2.8-5.6%. ISCD: 2.77 x the facility's own precision error, "
        "per site.",
        implemented_in="serial-exam monitoring step",
    ),
    Rule(
        "CHG-LOSS", "serial",
        "A significant decrease is flagged SIGNIFICANT_BMD_LOSS (warning); on treatment "
        "LOSS_ON_TREATMENT (high).",
        (), ISCD, implemented_in="serial-exam monitoring step",
    ),
    Rule(
        "MON-OVERDUE", "serial",
        "At report time, a patient whose latest next_dxa_due has passed with no later "
        "exam is overdue.",
        (), SPEC, implemented_in="serial-exam monitoring step",
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
#: IDs decided per exam by `transforms.rules.decide`, in catalog (= reasons) order.
DECISION_RULE_IDS: tuple[str, ...] = tuple(
    rule.id for rule in RULES if rule.implemented_in == "transforms.rules"
)


def _format(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _params(rule: Rule, ruleset: Ruleset | None) -> list[str]:
    """The rule's parameter keys, with this ruleset's values when one is given."""
    if ruleset is None:
        return list(rule.params)
    return [f"{key} = {_format(ruleset.value(key))}" for key in rule.params]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_catalog(fmt: str = "text", ruleset: Ruleset | None = None) -> str:
    """The catalog as plain text or a Markdown table; with a ruleset, its parameter values.

    `fmt` is "text" or "markdown".
    """
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown catalog format {fmt!r} (use 'text' or 'markdown')")
    heading = "Rule catalog" + (f" ({ruleset.label}: {ruleset.title})" if ruleset else "")
    if fmt == "markdown":
        lines = [
            f"# {heading}",
            "",
            "| ID | rule | parameters | source | departure from guidelines | implemented in |",
            "|---|---|---|---|---|---|",
        ]
        for rule in RULES:
            cells = (
                f"`{rule.id}`",
                rule.wording,
                "; ".join(_params(rule, ruleset)) or "-",
                rule.source,
                rule.departure or "",
                rule.implemented_in,
            )
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        return "\n".join(lines) + "\n"
    def field(label: str, text: str) -> str:
        return textwrap.fill(
            f"{label}{text}",
            width=96,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )

    lines = [heading, "=" * len(heading), ""]
    for rule in RULES:
        lines.append(f"{rule.id}  [{rule.section}]")
        lines.append(field("", rule.wording))
        if rule.params:
            lines.append("  parameters:")
            lines += [f"    {param}" for param in _params(rule, ruleset)]
        lines.append(field("source: ", rule.source))
        if rule.departure:
            lines.append(field("departure: ", rule.departure))
        if rule.implemented_in != "transforms.rules":
            lines.append(field("implemented in: ", rule.implemented_in))
        lines.append("")
    return "\n".join(lines)
