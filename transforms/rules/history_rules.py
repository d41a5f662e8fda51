"""The history rules (clinical-rules.md section 7a), declared: the patient, not the exam.

Declarations only: the history stage computes them from the patient's earlier exams in
the registry and rewrites the exam's inputs before the diagnosis, risk and treatment
stages read them. The assessment's `history_used` lists HX-SAME-DAY on every exam of a
visit with more than one exam, and the other HX IDs only where they changed an input, so
that a reader can tell a measured fact from a carried one.
"""

from __future__ import annotations

from transforms.rules.declare import SPEC, Rule

AACE_DIAGNOSIS = "AACE/ACE 2020"
#: Where the history rules are decided.
HISTORY_STAGE = "history stage (transforms.rules.history)"

RULES: tuple[Rule, ...] = (
    Rule(
        "HX-SAME-DAY", "history",
        "Exams of one patient on one date are one visit: each is judged on the valid "
        "sites of all of that day's exams (SITE-LOWEST over them all) and on the visit's "
        "risk inputs (a yes in any row is yes, with no conflict flag within a day; of "
        "numbers, the highest); every exam of the visit gets the same decision and lists "
        "HX-SAME-DAY in history_used; flag SAME_DAY_EXAMS (info). Serial comparison still "
        "compares each exam's own sites.",
        (), SPEC, implemented_in=HISTORY_STAGE,
    ),
    Rule(
        "HX-FRACTURE-PERSISTS", "history",
        "A fragility fracture (yes, or sites listed) or a radiographic vertebral fracture "
        "recorded on an earlier exam counts on every later exam of the patient; fracture "
        "sites accumulate. A blank cell inherits it. An explicit no after an earlier yes "
        "is a contradiction: the fracture still counts, flag FRACTURE_HISTORY_CONFLICT "
        "(warning).",
        (), SPEC, implemented_in=HISTORY_STAGE,
    ),
    Rule(
        "HX-OSTEOPOROSIS-PERSISTS", "history",
        "Once an earlier visit on the WHO basis had a valid diagnostic site (the radius "
        "where SITE-RADIUS made it valid) with T <= -2.5, the diagnosis persists: later "
        "exams keep their measured who_category, and the treatment lines see the history "
        "(TX-OSTEOPOROSIS-HISTORY, BHOF-OSTEOPOROSIS-HISTORY).",
        (), f"{AACE_DIAGNOSIS} ('the diagnosis persists even when a subsequent DXA "
        "measurement shows a T-score better than -2.5')",
        "Not covered by the article (each exam alone). AACE/ACE 2020: an osteoporosis "
        "diagnosis persists when a later T-score is higher.",
        implemented_in=HISTORY_STAGE,
    ),
    Rule(
        "HX-CENTRAL-SITE", "history",
        "A forearm-only visit (no exam that day has a valid spine, femoral neck or total "
        "hip result) after a visit with a central site stores its own measured "
        "diagnostic_site, diagnostic_t_score and who_category, but its treatment lines "
        "read the lower of its own lowest valid T-score and the latest central visit's "
        "diagnostic T-score (carried; history_used lists HX-CENTRAL-SITE where the carried "
        "value was lower), with its own risk inputs plus the fractures of "
        "HX-FRACTURE-PERSISTS, so it can raise a decision but never lower one; its "
        "next_dxa_due is never later than the latest central visit's.",
        (), SPEC, implemented_in=HISTORY_STAGE,
    ),
)
