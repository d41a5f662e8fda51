"""The treatment lines the engine knows, declared: ID, kind, wording (clinical-rules.md 4-5).

Declarations only, no expressions: a ruleset file is validated against `LINE_IDS` (a
line it lists must be one the engine knows), so `transforms.rules.ruleset` imports this
module, and it must import nothing that reads a ruleset. The conditions that decide each
line are in `transforms.rules.treatment`.
"""

from __future__ import annotations

from transforms.rules.declare import (
    ARTICLE,
    BHOF,
    CAROC_SOURCE,
    NO_FRAX,
    NO_ON_TREATMENT,
    SPEC,
    UNLESS_JOINED,
    Rule,
    ids,
)

_FRAX = ("treatment.frax_hip_pct", "treatment.frax_major_pct")
AACE_DIAGNOSIS = ("AACE/ACE 2020 ('the diagnosis persists even when a subsequent DXA "
                  "measurement shows a T-score better than -2.5')")
HISTORY_DEPARTURE = ("Not covered by the article (each exam alone). AACE/ACE 2020: an "
                     "osteoporosis diagnosis persists when a later T-score is higher.")
CAROC_CAVEAT = ("CAROC is calibrated on Canadian data: decision support (who needs "
                "review), not a fracture-risk calculation for the patient.")

RULES: tuple[Rule, ...] = (
    Rule(
        "TX-FRAGILITY-FX", "indication",
        "WHO basis, prior fragility fracture (any site, any T-score: the article's "
        "'indicates severe osteoporosis regardless of T-score'). Lines run on the WHO "
        "basis only, in the ruleset's order: the first matching line sets treatment, "
        "every matching indication adds its ID, a fallback fires only when no line above "
        "it matched; no line matching gives not_indicated. Other bases: not_applicable. "
        "first_line_therapy is the ruleset's text where treatment is recommended or "
        "consider, else null.",
        ("treatment.first_line_therapy",), ARTICLE,
        "Article: any fragility fracture at any T-score. BHOF: hip or vertebral at any "
        "T-score; humerus, pelvis, forearm with low bone mass (ruleset bhof-2022).",
    ),
    Rule("TX-OSTEOPOROSIS", "indication",
         "WHO osteoporosis, from the T-score the treatment lines read (with HX-CENTRAL-SITE "
         "the lower of the exam's own and the latest central visit's; the stored "
         "who_category stays the measured one).", (), ARTICLE),
    Rule(
        "TX-VERTEBRAL-FX", "indication",
        "Radiographic vertebral fracture with a WHO category in "
        "vertebral_fracture_categories and T <= vertebral_fracture_t_limit (none: any T); "
        "at normal BMD also flag VERTEBRAL_FX_NORMAL_BMD (warning: confirm it is a "
        "fragility fracture).",
        ("treatment.vertebral_fracture_categories", "treatment.vertebral_fracture_t_limit"),
        ARTICLE,
        "Article: consider if osteopenia with T between -1.6 and -2.5; not covered at normal "
        "BMD. Guidelines: a vertebral fragility fracture is clinical osteoporosis at any "
        "T-score (BHOF, ISCD); version 3 of core-2025: recommended at any T-score, with the "
        "flag at normal BMD.",
    ),
    Rule(
        "TX-OSTEOPOROSIS-HISTORY", "indication",
        "WHO osteoporosis diagnosed on an earlier exam of the patient "
        "(HX-OSTEOPOROSIS-PERSISTS), whatever this exam's category.",
        (), AACE_DIAGNOSIS,
        HISTORY_DEPARTURE,
    ),
    Rule(
        "TX-FRAX-HIGH", "indication",
        "Osteopenia with adjusted FRAX (FRAX-ADJ-*) hip >= frax_hip_pct or major "
        "osteoporotic >= frax_major_pct (either one recorded and high is enough; the "
        "thresholds are inclusive, compared at 6 decimals).",
        _FRAX, ARTICLE,
        "Article: FRAX hip > 5%, which no guideline backs. BHOF 2022, AACE/ACE 2020 and the "
        "Endocrine Society 2019: hip >= 3%; version 3 of core-2025 uses 3%.",
    ),
    Rule(
        "TX-RISK-FEATURES", "indication",
        "Osteopenia, FRAX hip or major missing (as TX-FRAX-MISSING), and at least one "
        "high-risk feature (risk_factor_count >= 1, RF-HEIGHT-LOSS included); "
        "TX-FRAX-MISSING then adds its ID to reasons too (without setting the treatment), "
        "so that the request for FRAX stays visible. A recorded FRAX has already weighed "
        "these features: they do not decide a second time.",
        (), ARTICLE,
        "Article: high-risk features 'warrant treatment despite osteopenia'. FRAX already "
        "counts them; version 3: they decide only where FRAX is missing.",
    ),
    Rule(
        "TX-FRAX-MISSING", "fallback",
        "Osteopenia, FRAX hip or major not recorded, and no line above matched (or only "
        "TX-RISK-FEATURES, which then sets the treatment).",
        (), ARTICLE,
        input_limits=NO_FRAX,
    ),
    Rule(
        "TX-LOW-RISK", "fallback",
        "Osteopenia, no line above matched, both FRAX values recorded (and so low).",
        _FRAX, ARTICLE,
    ),
    Rule("TX-NORMAL", "fallback", "Normal BMD, no line above matched.", (), ARTICLE),
    Rule(
        "BHOF-HIP-VERTEBRAL-FX", "indication",
        "A hip or vertebral fracture at any T-score: prior_fracture_sites holds hip or "
        "vertebral, or a radiographic vertebral fracture (both alike).",
        (), BHOF,
    ),
    Rule(
        "BHOF-FX-SITE-UNKNOWN", "indication",
        "A prior fragility fracture whose site is not recorded, any T-score; flag "
        "FRACTURE_SITE_UNKNOWN (info: BHOF treats hip and vertebral fractures at any BMD, "
        "other sites only with low bone mass).",
        (), BHOF,
    ),
    Rule("BHOF-OSTEOPOROSIS", "indication", "T <= osteoporosis_t (WHO osteoporosis).",
         ("diagnosis.osteoporosis_t",), BHOF),
    Rule(
        "BHOF-OSTEOPOROSIS-HISTORY", "indication",
        "WHO osteoporosis diagnosed on an earlier exam (HX-OSTEOPOROSIS-PERSISTS).",
        (), f"{BHOF}; {AACE_DIAGNOSIS}", HISTORY_DEPARTURE,
    ),
    Rule(
        "BHOF-FRAX-HIGH", "indication",
        "Osteopenia and adjusted FRAX (FRAX-ADJ-*) hip >= frax_hip_pct or major >= "
        "frax_major_pct (inclusive).",
        _FRAX, BHOF,
    ),
    Rule(
        "BHOF-FX-OTHER-LOW-BMD", "indication",
        "Osteopenia and a prior fracture of the humerus, pelvis or forearm (sites "
        "recorded, none hip or vertebral). A fracture of another site (other) matches no "
        "fracture line at any T-score.",
        (), BHOF,
    ),
    Rule(
        "BHOF-FRAX-MISSING", "fallback",
        "Osteopenia, no line above matched, FRAX hip or major not recorded.",
        (), BHOF,
        input_limits=NO_FRAX,
    ),
    Rule(
        "BHOF-LOW-RISK", "fallback",
        "Otherwise (osteopenia with both FRAX values recorded and low, or normal BMD), no "
        "line above matched. High-risk features are reported but do not by themselves "
        "change the decision.",
        (), BHOF,
    ),
    Rule(
        "OC-HIGH", "indication",
        "caroc_risk high (CAROC-*). The oc-2010 lines are the CAROC category alone: the "
        "WHO category is reported but does not decide (Osteoporosis Canada 2010); very "
        "high risk escalates as in every ruleset.",
        (), CAROC_SOURCE,
        "Osteoporosis Canada's 2023 guideline supersedes 2010; CAROC may underestimate "
        "risk with very low spine or total hip BMD.",
        caveat=CAROC_CAVEAT,
    ),
    Rule("OC-MODERATE", "indication", "caroc_risk moderate.", (), CAROC_SOURCE,
         caveat=CAROC_CAVEAT),
    Rule("OC-LOW", "fallback", "caroc_risk low, no line above matched.", (), CAROC_SOURCE,
         caveat=CAROC_CAVEAT),
    Rule(
        "OC-NOT-COMPUTABLE", "fallback",
        "caroc_risk null (under 50, no femoral neck result, a man without a Hologic "
        "femoral neck BMD, and no CAROC rule giving a category), no line above matched.",
        (), CAROC_SOURCE,
    ),
    Rule(
        "TX-ON-TREATMENT", "treatment",
        "WHO basis and on_treatment recorded as yes: treatment = on_treatment whatever "
        "the lines found (their IDs stay in reasons, so the eligibility is visible); "
        "first_line_therapy null. Where only a not_indicated fallback matched, flag "
        "ON_TREATMENT_NO_INDICATION (info: review whether therapy should go on, e.g. a "
        "drug holiday), unless the exam is very high risk (VERY_HIGH_RISK). A treated "
        "patient never reads as not_indicated.",
        (), SPEC,
        input_limits=(f"{NO_ON_TREATMENT}: this rule never fires for their exams, so a "
                      f"treated patient reads by the lines that matched (not_indicated among "
                      f"them), {UNLESS_JOINED}."),
    ),
    Rule(
        "TX-DRUG-HOLIDAY", "treatment",
        "WHO basis, treatment_drug = drug_holiday (a planned pause after a bisphosphonate "
        "course; not on treatment): treatment = drug_holiday whatever the lines found (their "
        "IDs stay in reasons; very high risk does not override it, VERY_HIGH_RISK is still "
        "flagged); never a treatment candidate; first_line_therapy null; next_dxa_due = exam "
        "date + drug_holiday_months (the earlier date of the MON lines still wins).",
        ("treatment.drug_holiday_months",),
        "ASBMR task force 2016 (Adler et al.): re-evaluate after 2-3 years",
    ),
)
#: Every treatment line a ruleset may list (TX-ON-TREATMENT is not a line: it overrides).
#: Declared here rather than in the module of their inputs (history, CAROC) because
#: ruleset validation needs every line's ID.
LINE_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.kind in ("indication", "fallback"))
LINE_IDS: tuple[str, ...] = ids(LINE_RULES)
KIND: dict[str, str] = {r.id: r.kind for r in LINE_RULES}
