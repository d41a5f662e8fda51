"""The words people read for the registry's codes: one place for every vocabulary.

The registry stores codes (`needs_risk_assessment`, `SCANNER_CHANGED`, `NOT_A_DATE`) so
that SQL, JSON and CSV stay stable; a clinician-manager reading the quality page should
read words instead. Every label the page shows comes from here, and the page lists the
codes beside their labels only in its analysts' part. The order of each vocabulary is
not kept here: `order` owns it (clinical order), and the charts sort codes before
labelling them.

Quarantine reasons are labelled from their own wording (`schemas.reasons`): the message
without the column it names (`is not a number` -> `Not a number`). A wording that needs
its values (a bound, a date format) or its subject to make sense gets a fixed label here
instead, so no label holds a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from schemas.reasons import REASONS


class Vocabulary(StrEnum):
    """The coded columns the page labels (a report column names its vocabulary)."""

    CATEGORY = "category"
    TREATMENT = "treatment"
    SITE = "site"
    SEX = "sex"
    SEVERITY = "severity"
    DIRECTION = "direction"
    RUN_STATUS = "run_status"
    FLAG = "flag"
    REASON = "reason"


#: WHO and ISCD Z categories; for an exam without a category, its basis says why.
CATEGORY_LABELS: Mapping[str, str] = MappingProxyType({
    "osteoporosis": "Osteoporosis",
    "osteopenia": "Osteopenia (low bone mass)",
    "normal": "Normal bone density",
    "below_expected_range": "Below the expected range for age (Z-score)",
    "within_expected_range": "Within the expected range for age (Z-score)",
    "not_assessed": "Not assessed (younger than the adult age)",
    "who_t_score": "No category: no valid site with a T-score",
    "iscd_z_score": "No category: no valid site with a Z-score",
})

TREATMENT_LABELS: Mapping[str, str] = MappingProxyType({
    "recommended": "Treatment recommended",
    "consider": "Consider treatment",
    "needs_risk_assessment": "Needs a fracture-risk assessment",
    "not_indicated": "Treatment not indicated",
    "on_treatment": "Already on treatment",
    "drug_holiday": "On a drug holiday (planned pause)",
    "not_applicable": "Not applicable (Z-score basis or not assessed)",
})

SITE_LABELS: Mapping[str, str] = MappingProxyType({
    "spine": "Lumbar spine",
    "femoral_neck": "Femoral neck",
    "total_hip": "Total hip",
    "radius_33": "Radius (one-third)",
})

SEX_LABELS: Mapping[str, str] = MappingProxyType({"F": "Women", "M": "Men"})

SEVERITY_LABELS: Mapping[str, str] = MappingProxyType({
    "high": "High",
    "warning": "Warning",
    "info": "For information",
})

DIRECTION_LABELS: Mapping[str, str] = MappingProxyType({
    "decrease": "Loss",
    "increase": "Gain",
    "stable": "No significant change",
})

RUN_STATUS_LABELS: Mapping[str, str] = MappingProxyType({
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "interrupted": "Interrupted",
})

#: Every flag the decision (`transforms.rules.flags`) and serial comparison
#: (`transforms.serial`) raise; their details in the registry say more per exam.
FLAG_LABELS: Mapping[str, str] = MappingProxyType({
    "MENOPAUSE_ASSUMED": "Menopausal status assumed from age",
    "MENOPAUSE_UNKNOWN_LOW_BMD": "Menopausal status unknown with a T-score of osteoporosis",
    "PEDIATRIC_NOT_ASSESSED": "Younger than the adult age: not assessed",
    "SPINE_TOO_FEW_VERTEBRAE": "Spine result on too few vertebrae",
    "T_SCORE_NOT_COMPUTED": "T-score not computed from the BMD",
    "NO_DIAGNOSTIC_SITE": "No valid site for diagnosis",
    "VERTEBRAL_FX_NORMAL_BMD": "Vertebral fracture at normal bone density",
    "FRACTURE_SITE_UNKNOWN": "Prior fracture without a recorded site",
    "ON_TREATMENT_NO_INDICATION": "On treatment without a current indication",
    "FRACTURE_ON_Z_BASIS": "Fracture in a patient assessed by Z-score",
    "GLUCOCORTICOID_RISK_REVIEW": "Long-term glucocorticoids: fracture risk to review",
    "RISK_FACTORS_INCOMPLETE": "Risk factors not all recorded",
    "VERY_HIGH_RISK": "Very high fracture risk: specialist review",
    "SAME_DAY_EXAMS": "Judged with the other exams of the same day",
    "FRACTURE_HISTORY_CONFLICT": "Fracture recorded as no after an earlier fracture",
    "SIGNIFICANT_BMD_LOSS": "Significant bone loss",
    "LOSS_ON_TREATMENT": "Significant bone loss on treatment",
    "SCANNER_CHANGED": "Scanner changed since the earlier exams",
    "REGION_CHANGED": "Scanned region changed (e.g. the other hip)",
    "DRUG_HOLIDAY_REVIEW": "Bisphosphonate course complete: drug holiday to review",
    "CONTINUE_THERAPY_REVIEW": "Bisphosphonate course complete: continuing to review",
    "DENOSUMAB_NO_INTERRUPTION": "Denosumab: do not stop without a follow-on drug",
    "ANABOLIC_COURSE_COMPLETE": "Anabolic course complete: follow with an antiresorptive",
    "FRACTURE_ON_TREATMENT": "Fracture after a year on treatment",
    "TREATMENT_FAILURE_REVIEW": "Possible treatment failure (two or more signals)",
})

#: Reasons whose wording needs values (a bound, a format, a table's name) or its
#: subject (an exam date in the future names its column first) to read as a label.
_FIXED_REASON_LABELS: Mapping[str, str] = MappingProxyType({
    "TRUNCATED_ROW": "Truncated row (fewer fields than the header)",
    "NOT_A_BOOLEAN": "Not yes or no (true/false, yes/no, y/n, 1/0)",
    "UNKNOWN_CODE": "Holds a code outside its list",
    "NOT_A_DATE": "Not a real date in the expected form",
    "REQUIRED": "A required value is missing",
    "EMPTY": "A required text is empty",
    "TOO_EARLY": "Before the earliest plausible date",
    "EXAM_DATE_IN_FUTURE": "Exam date in the future",
    "BIRTH_AFTER_EXAM": "Birth date after the exam date",
    "FRACTURE_SITES_CONTRADICT": "Fracture sites listed, but no prior fracture recorded",
    "DATE_AFTER": "A history date after the exam date",
    "DATE_BEFORE": "A history date before the birth date",
    "TREATMENT_DRUG_CONTRADICTS": "Drug named, but not on treatment",
    "DRUG_HOLIDAY_CONTRADICTS": "Drug holiday, but on treatment",
    "FRACTURE_DATE_CONTRADICTS": "Fracture date given, but no prior fracture recorded",
    "T_SCORE_NOT_COMPUTED": "T-score not computed from the BMD",
    "DUPLICATE_ID_CONFLICT": "Exam ID repeated in the file with different content",
    "REGISTRY_ID_CONFLICT": "Exam ID already in the registry with other content",
    "APEX_MISSING_VALUE": "APEX export: a key or required value is blank",
    "APEX_UNREADABLE_DATE": "APEX export: an unreadable date",
    "APEX_NO_SCAN": "APEX export: a result that links to no scan",
    "APEX_NO_PATIENT": "APEX export: a scan whose patient is missing",
    "APEX_NO_MEASUREMENT": "APEX export: a scan without its results",
    "APEX_CONFLICTING_ROWS": "APEX export: conflicting rows for one scan",
    "APEX_WRONG_SCAN_KIND": "APEX export: a result linked to a scan of another kind",
    "APEX_AMBIGUOUS_SCANID": "APEX export: a scan ID shared by several patients",
    "APEX_UNKNOWN_BONERANGE": "APEX export: an unknown region code",
    "APEX_SPINE_RANGE_TIE": "APEX export: two spine results, neither wider",
    "APEX_UNORDERED_REPEATS": "APEX export: repeated scans that cannot be ordered",
    "NHANES_NO_DEMOGRAPHICS": "NHANES: a participant without age and sex",
})

_CODE = re.compile(r"[A-Za-z0-9_]+")
_SUBJECT = re.compile(r"^\{(column|where)\}: ")
_WITH_VALUES = re.compile(r"\s*\([^)]*\{[a-z_]+\}[^)]*\)")


def _reason_label(code: str) -> str:
    """A reason's wording without its subject (`exam_date: `) and its values' brackets."""
    if code in _FIXED_REASON_LABELS:
        return _FIXED_REASON_LABELS[code]
    words = _WITH_VALUES.sub("", _SUBJECT.sub("", REASONS[code].wording))
    words = words.removeprefix("is ")
    return words[:1].upper() + words[1:]


REASON_LABELS: Mapping[str, str] = MappingProxyType(
    {code: _reason_label(code) for code in REASONS})

LABELS: Mapping[Vocabulary, Mapping[str, str]] = MappingProxyType({
    Vocabulary.CATEGORY: CATEGORY_LABELS,
    Vocabulary.TREATMENT: TREATMENT_LABELS,
    Vocabulary.SITE: SITE_LABELS,
    Vocabulary.SEX: SEX_LABELS,
    Vocabulary.SEVERITY: SEVERITY_LABELS,
    Vocabulary.DIRECTION: DIRECTION_LABELS,
    Vocabulary.RUN_STATUS: RUN_STATUS_LABELS,
    Vocabulary.FLAG: FLAG_LABELS,
    Vocabulary.REASON: REASON_LABELS,
})

#: Where a vocabulary is explained to analysts (the codes' own wording).
HEADINGS: Mapping[Vocabulary, str] = MappingProxyType({
    Vocabulary.CATEGORY: "WHO and Z categories (assessments.who_category, z_category, basis)",
    Vocabulary.TREATMENT: "Treatment levels (assessments.treatment)",
    Vocabulary.SITE: "Sites (measurements.site, bmd_changes.site)",
    Vocabulary.SEX: "Sex (exams.sex)",
    Vocabulary.SEVERITY: "Flag severities (flags.severity)",
    Vocabulary.DIRECTION: "Directions of change (bmd_changes.direction)",
    Vocabulary.RUN_STATUS: "Run statuses (runs.status)",
    Vocabulary.FLAG: "Flags (flags.code)",
    Vocabulary.REASON: "Quarantine reasons (quarantine.reason_codes; schemas/reasons.py)",
})


def label(vocabulary: Vocabulary | str, code: str | None) -> str | None:
    """The label of `code`; a code no list knows yet (a new ruleset's word) reads as its
    words (`new_level` -> `New level`), so the page never fails on it."""
    if code is None:
        return None
    known = LABELS[Vocabulary(vocabulary)].get(code)
    if known is not None:
        return known
    if not _CODE.fullmatch(code):  # already words (`other reasons`; a reason's message
        return code[:1].upper() + code[1:]  # in a registry from before reason codes)
    words = code.replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:]


def labelled(vocabulary: Vocabulary | str, codes: tuple[str, ...]) -> list[str]:
    """The labels of `codes`, in their order (a chart's domain in clinical order)."""
    return [label(vocabulary, code) or "" for code in codes]
