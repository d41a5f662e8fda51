"""The tables version 3 added to every ruleset file ([frax_adjustment], [very_high_risk],
[caroc], [treatment] drug_holiday_months): validated like the rest, an error names the
file and the key; and cut-offs compared at 6 decimals (clinical-rules.md section 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rules_helpers import assess, assess_worked

from transforms.rules.ruleset import RulesetError, load_ruleset

SHIPPED = Path(__file__).parents[2] / "rulesets"
CORE_TEXT = (SHIPPED / "core-2025.toml").read_text()
OC_TEXT = (SHIPPED / "oc-2010.toml").read_text()


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(RulesetError) as info:
        load_ruleset(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    return message[len(str(path)) + 2:]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("glucocorticoid_major_factor = 1.15", "glucocorticoid_major_factor = 0.9",
     "frax_adjustment.glucocorticoid_major_factor: must be a number between 1 and 10"),
    ("spine_offset_t = 0.5", "spine_offset_t = 0",
     "frax_adjustment.spine_offset_t: must be a number greater than 0 and at most 10"),
    ("spine_offset_major_per_t = 0.1", "spine_offset_major_per_t = 0.1\nspine = 1",
     "frax_adjustment.spine: unknown key"),
    ("very_low_t = -3.0", "", "very_high_risk.very_low_t: missing key"),
    ("fracture_sites = 2", "fracture_sites = 1",
     "very_high_risk.fracture_sites: must be a whole number between 2 and 20"),
    ("recent_fracture_days = 365", 'recent_fracture_days = "365"',
     "very_high_risk.recent_fracture_days: must be a whole number between 1 and 36500"),
    ('first_line_therapy = "specialist', 'first_line_therapie = "specialist',
     "very_high_risk.first_line_therapie: unknown key"),
    ("{ age = 55, low_above = -2.5, high_below = -3.8 }",
     "{ age = 50, low_above = -2.5, high_below = -3.8 }",
     "caroc.women[1].age: must be greater than the row above's age"),
    ("{ age = 60, low_above = -2.3, high_below = -3.7 }",
     "{ age = 60, low_above = -2.3, high_below = -2.2 }",
     "caroc.women[2].high_below: must be at most caroc.women[2].low_above (-2.3)"),
    ("{ age = 65, low_above = -2.4, high_below = -3.7 }",
     "{ age = 65, low_above = -2.4 }", "caroc.men[3].high_below: missing key"),
    ("women = [", "women = [\n]\nwomen_old = [", "caroc.women_old: unknown key"),
    ('low_months = "none"', "low_months = 0",
     'caroc.low_months: must be a whole number between 1 and 1200 or "none"'),
    ("drug_holiday_months = 24", "drug_holiday_months = 24.5",
     'treatment.drug_holiday_months: must be a whole number between 1 and 1200 or "none"'),
])
def test_new_tables_name_file_and_key(tmp_path, old: str, new: str, message: str) -> None:
    assert old in CORE_TEXT
    assert _error(tmp_path, CORE_TEXT.replace(old, new, 1)) == message


def test_missing_table(tmp_path) -> None:
    start = CORE_TEXT.index("[very_high_risk]")
    end = CORE_TEXT.index("[caroc]")
    assert _error(tmp_path, CORE_TEXT[:start] + CORE_TEXT[end:]) == (
        "very_high_risk: missing section")


def test_shipped_rulesets_share_the_caroc_tables_of_section_5a() -> None:
    """Each file holds its own copy (ID@VERSION fixes every number); the copies agree."""
    core, bhof, oc = (load_ruleset(r) for r in ("core-2025", "bhof-2022", "oc-2010"))
    assert core.caroc.women == bhof.caroc.women == oc.caroc.women
    assert core.caroc.men == bhof.caroc.men == oc.caroc.men
    assert core.very_high_risk == bhof.very_high_risk == oc.very_high_risk
    assert core.frax_adjustment == bhof.frax_adjustment == oc.frax_adjustment
    assert (oc.caroc.high_months, oc.caroc.moderate_months, oc.caroc.low_months,
            oc.caroc.not_computed_months) == (12, 24, 60, 24)
    assert core.caroc.low_months is None and bhof.caroc.low_months is None
    assert [line.id for line in oc.treatment.lines] == [
        "OC-HIGH", "OC-MODERATE", "OC-LOW", "OC-NOT-COMPUTABLE"]
    assert (oc.monitoring.untreated_months, oc.monitoring.normal_months) == (None, None)


@pytest.mark.parametrize(("t", "category"), [
    (-2.4999999999999996, "osteoporosis"),  # a computed -2.5
    (-2.499999, "osteopenia"),
    (-1.0000000000000002, "normal"),        # a computed -1.0
    (-1.000001, "osteopenia"),
])
def test_t_compared_at_six_decimals(core, t: float, category: str) -> None:
    row = assess_worked(core, femoral_neck_t=t)
    assert (row["who_category"], row["diagnostic_t_score"]) == (category, t)  # stored as is


@pytest.mark.parametrize(("z", "category", "workup"), [
    (-1.9999999999999998, "below_expected_range", True),
    (-1.999999, "within_expected_range", False),
])
def test_z_compared_at_six_decimals(core, z: float, category: str, workup: bool) -> None:
    row = assess(core, age_years=40.0, menopausal_status="pre", femoral_neck_z=z)
    assert (row["z_category"], row["secondary_cause_workup"]) == (category, workup)
