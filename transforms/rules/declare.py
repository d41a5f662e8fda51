"""How a rule is declared: next to the expression that decides it, in its stage module.

Each stage module (basis, sites, diagnosis, risk, followup; and `transforms.serial` for
the serial-exam rules) holds a `RULES` tuple of `Rule` declarations beside its polars
expressions. The treatment lines are declared in `treatment_lines` instead, beside
`treatment`: ruleset validation needs their IDs, and treatment's expressions read
rulesets. The catalog (`catalog.RULES`), the order of `reasons`, the ID lists the stages
use and the registry's `rules` table are all built from those tuples, so a rule's ID,
wording, parameters and source live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

ARTICLE = ('"Management of Femoral Neck T-score -2.1 (Osteopenia)", a 2025 guideline '
           "summary")
ISCD = "ISCD Adult Official Positions 2019/2023"
WHO = "WHO 1994"
BHOF = "BHOF Clinician's Guide 2022"
FRAX = "FRAX"
ACR_GIOP = "ACR 2022 glucocorticoid-induced osteoporosis guideline"
SPEC = "clinical-rules.md"
AACE = "AACE/ACE 2020; Endocrine Society 2020"
CAROC_SOURCE = "Papaioannou et al., CMAJ 2010; Leslie et al. 2010 (CAROC)"

#: What the vendor and survey formats cannot tell (sources/: APEX, Lunar, NHANES adapters;
#: the canonical CSV carries every input). Shown beside the rules whose outcome it changes.
NO_ON_TREATMENT = (
    "APEX, Lunar and NHANES inputs hold no on_treatment (only the canonical CSV carries "
    "it), and not recorded counts as not treated"
)
UNLESS_JOINED = (
    "unless a registry joins treatment data to these exams (the pipeline has no such join)"
)
NO_FRAX = (
    "APEX and NHANES inputs hold no FRAX, Lunar only when the file carries a FRAX "
    "container: their osteopenic exams that no line above matched end here, never at the "
    "low-risk fallback."
)

#: Where a rule is decided: per exam by `transforms.rules.decide`, or elsewhere.

RULES_ENGINE = "transforms.rules"
SERIAL_STEP = "serial-exam monitoring step"
READING_STEP = "reading step (T-scores from BMD, before validation)"
REPORT_VIEWS = "report views"


@dataclass(frozen=True)
class Rule:
    """One rule: its stable ID, what kind of rule it is, its wording and where it comes from.

    `kind` groups rules for the catalog (basis, site, category, risk, indication,
    fallback, treatment, output, monitoring, serial); for a treatment line it says whether
    the line is an *indication* (every matching one is a reason) or a *fallback* (fires
    only when no line above it matched). `params` are the dotted ruleset keys the rule
    reads (`risk.bmi`), so the catalog can show each ruleset's values. `departure` is the
    known difference from the published guidelines (clinical-rules.md section 9);
    `caveat` what a reader must keep in mind when acting on it (section 11: CAROC is
    calibrated on Canadian data, FRAX adjustments are rules of thumb).
    """

    id: str
    kind: str
    wording: str
    params: tuple[str, ...]
    source: str
    departure: str | None = None
    implemented_in: str = RULES_ENGINE
    input_limits: str | None = None
    caveat: str | None = None


def ids(rules: tuple[Rule, ...]) -> tuple[str, ...]:
    """The IDs of `rules`, in declaration order."""
    return tuple(rule.id for rule in rules)
