"""Display orders of the report's vocabularies, and the SQL that sorts by them.

Reports list categories in clinical order (most severe first, as the rulesets list their
WHO categories and treatment levels), overdue follow-up in time order and sites in the
contract's order, never alphabetically: `6 to 12 months` before `over 12 months`,
`osteoporosis` before `osteopenia`. A value outside a list (a new ruleset's word) sorts
after the listed ones, alphabetically, so the order stays total and stable.
"""

from __future__ import annotations

from collections.abc import Sequence

#: WHO categories, then the ISCD Z categories, then exams with no assessment basis.
CATEGORIES: tuple[str, ...] = (
    "osteoporosis", "osteopenia", "normal",
    "below_expected_range", "within_expected_range",
    "not_assessed",
)

#: Treatment levels, most to least urgent; then patients already treated, then those the
#: ruleset does not apply to.
TREATMENTS: tuple[str, ...] = (
    "recommended", "consider", "needs_risk_assessment", "not_indicated",
    "on_treatment", "drug_holiday", "not_applicable",
)

#: Diagnostic sites in the contract's order.
SITES: tuple[str, ...] = ("spine", "femoral_neck", "total_hip", "radius_33")

SEVERITIES: tuple[str, ...] = ("high", "warning", "info")

DIRECTIONS: tuple[str, ...] = ("decrease", "increase")

#: Flags that mark a change between serial exams, in the order the report lists them.
SERIAL_FLAGS: tuple[str, ...] = ("LOSS_ON_TREATMENT", "SIGNIFICANT_BMD_LOSS", "SCANNER_CHANGED")

#: Overdue follow-up bands: (label, more than this many days overdue), in time order.
OVERDUE_BANDS: tuple[tuple[str, int], ...] = (
    ("up to 6 months", 0),
    ("6 to 12 months", 182),
    ("over 12 months", 365),
)

#: Age bands at the exam: (label, from this age), youngest first.
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("under 40", 0), ("40-49", 40), ("50-59", 50), ("60-69", 60), ("70-79", 70),
    ("80+", 80),
)


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def sort_key(column: str, values: Sequence[str]) -> str:
    """SQL sort terms: listed values in list order, then any other value alphabetically."""
    return f"coalesce(list_position({_sql_list(values)}, {column}), {len(values) + 1}), {column}"


def band_case(days: str) -> str:
    """SQL for the overdue band label of `days` days overdue (days > 0)."""
    whens = " ".join(f"WHEN {days} > {low} THEN '{label}'"
                     for label, low in reversed(OVERDUE_BANDS[1:]))
    return f"CASE {whens} ELSE '{OVERDUE_BANDS[0][0]}' END"


def age_band_case(age: str) -> str:
    """SQL for the age band label of an age in years (null stays null)."""
    whens = " ".join(f"WHEN {age} >= {low} THEN '{label}'" for label, low in reversed(AGE_BANDS))
    return f"CASE WHEN {age} IS NULL THEN NULL {whens} END"


def labels(bands: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    return tuple(label for label, _ in bands)
