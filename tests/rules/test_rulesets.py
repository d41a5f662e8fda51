"""Rulesets are validated data: loading, errors naming file and key, a third ruleset."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from rules_helpers import TEST_RULESET, assess, assess_worked

from transforms.rules.ruleset import (
    PARAMETER_KEYS,
    Ruleset,
    RulesetError,
    RulesetProblem,
    available_rulesets,
    load_ruleset,
)
from transforms.rules.treatment_lines import LINE_IDS

CORE_TEXT = (Path(__file__).parents[2] / "rulesets" / "core-2025.toml").read_text()
VF_CATEGORIES = 'vertebral_fracture_categories = ["osteopenia"]'
VF_LIMIT = "vertebral_fracture_t_limit = -1.6"
#: core-2025 with version 2's TX-VERTEBRAL-FX limits (osteopenia, T <= -1.6): the
#: cross-field checks of the two keys need a limit to check.
LIMITED_TEXT = CORE_TEXT.replace(
    'vertebral_fracture_categories = ["osteoporosis", "osteopenia", "normal"]', VF_CATEGORIES
).replace('vertebral_fracture_t_limit = "none"', VF_LIMIT)


def test_shipped_rulesets(core, bhof) -> None:
    assert [r.label for r in available_rulesets()] == ["bhof-2022@3", "core-2025@3",
                                                       "oc-2010@3"]
    assert core.label == "core-2025@3"
    assert core.path == "rulesets/core-2025.toml"
    assert core.treatment.frax_hip_pct == 3.0
    assert core.treatment.vertebral_fracture_t_limit is None
    assert core.monitoring.normal_months is None
    assert bhof.treatment.frax_hip_pct == 3.0
    assert bhof.treatment.vertebral_fracture_t_limit is None
    assert [line.id for line in bhof.treatment.lines] == [
        "BHOF-HIP-VERTEBRAL-FX", "BHOF-FX-SITE-UNKNOWN", "BHOF-OSTEOPOROSIS",
        "BHOF-OSTEOPOROSIS-HISTORY", "BHOF-FRAX-HIGH", "BHOF-FX-OTHER-LOW-BMD",
        "BHOF-FRAX-MISSING", "BHOF-LOW-RISK"]
    assert core.treatment.level_of("TX-VERTEBRAL-FX") == "recommended"
    assert core.treatment.level_of("BHOF-LOW-RISK") is None
    assert core.monitoring.glucocorticoid_months == bhof.monitoring.z_fracture_months == 24
    for ruleset in (core, bhof, load_ruleset("oc-2010")):
        for key in PARAMETER_KEYS:
            ruleset.value(key)  # every parameter is reachable by its dotted key


def test_load_by_path_equals_load_by_id(core) -> None:
    by_path = load_ruleset(Path(__file__).parents[2] / "rulesets" / "core-2025.toml")
    assert by_path.treatment == core.treatment and by_path.label == core.label


def _write(tmp_path: Path, text: str, name: str = "x.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    return message[len(path) + 2:]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("frax_hip_pct = 3 ", "frax_hip_pct = 105 ",
         "treatment.frax_hip_pct: must be a number greater than 0 and at most 100"),
        ("frax_hip_pct = 3 ", 'frax_hip_pct = "5" ',
         "treatment.frax_hip_pct: must be a number greater than 0 and at most 100"),
        ("frax_hip_pct = 3 ", "frax_hip_pct = 0 ",
         "treatment.frax_hip_pct: must be a number greater than 0 and at most 100"),
        ("frax_major_pct = 20 ", "frax_major_pct = 100.5 ",
         "treatment.frax_major_pct: must be a number greater than 0 and at most 100"),
        ("frax_hip_pct = 3 ", "frax_hip_pcnt = 3 ", "treatment.frax_hip_pcnt: unknown key"),
        ("bmi = 19 ", "", "risk.bmi: missing key"),
        ("version = 3", "version = 1.5", "version: must be a whole number between 1 and 1000000"),
        ("version = 3", "version = 3\ncolour = 'red'", "colour: unknown key"),
        ('{ id = "TX-FRAGILITY-FX", level = "recommended" }',
         '{ id = "TX-FRAGILITY-FX", level = "maybe" }',
         "treatment.lines[0].level: must be one of recommended, consider, "
         "needs_risk_assessment, not_indicated"),
        ('{ id = "TX-OSTEOPOROSIS", level = "recommended" }',
         '{ id = "TX-OSTEOPOROSIS", levels = "recommended" }',
         "treatment.lines[1].levels: unknown key"),
        ('{ id = "TX-OSTEOPOROSIS", level = "recommended" }',
         '{ id = "TX-OSTEOPOROSIS" }', "treatment.lines[1].level: missing key"),
        ('{ id = "TX-OSTEOPOROSIS", level = "recommended" }',
         '{ id = "TX-OSTEOPOROSE", level = "recommended" }',
         "treatment.lines[1].id: unknown line 'TX-OSTEOPOROSE' (known: " + ", ".join(
             LINE_IDS) + ")"),
        ('{ id = "TX-OSTEOPOROSIS", level = "recommended" }',
         '{ id = "TX-FRAGILITY-FX", level = "recommended" }',
         "treatment.lines[1].id: line 'TX-FRAGILITY-FX' is listed twice"),
        ("untreated_months = 24 ", "untreated_months = 24.5 ",
         'monitoring.untreated_months: must be a whole number between 1 and 1200 or "none"'),
        ('vertebral_fracture_categories = ["osteopenia"]',
         'vertebral_fracture_categories = ["osteopenic"]',
         "treatment.vertebral_fracture_categories: must be a non-empty list of distinct values "
         "from osteoporosis, osteopenia, normal"),
        ("vertebral_fracture_t_limit = -1.6", 'vertebral_fracture_t_limit = "any"',
         'treatment.vertebral_fracture_t_limit: must be a number between -10 and 10 or "none"'),
        ("normal_t = -1.0", "normal_t = -3.0",
         "diagnosis.normal_t: must be greater than diagnosis.osteoporosis_t"),
        ("spine_min_vertebrae = 2", "spine_min_vertebrae = true",
         "sites.spine_min_vertebrae: must be a whole number between 1 and 4"),
        ("treated_months = 12", "treated_months = 0",
         'monitoring.treated_months: must be a whole number between 1 and 1200 or "none"'),
        ('id = "core-2025"', 'id = "Core 2025"',
         "id: must be lower-case letters, digits and dashes (e.g. core-2025)"),
        ('id = "core-2025"\n', "", "id: missing key"),
        ("[monitoring]", "[monitor]", "monitor: unknown key"),
    ],
)
def test_validation_errors_name_file_and_key(tmp_path, old: str, new: str, message: str) -> None:
    assert old in LIMITED_TEXT
    assert _error(tmp_path, LIMITED_TEXT.replace(old, new, 1)) == message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"men_who_age = 50": "men_who_age = 18"},
         "basis.men_who_age: must be at least basis.adult_age (20)"),
        ({"menopause_assumed_age = 50": "menopause_assumed_age = 19.5"},
         "basis.menopause_assumed_age: must be at least basis.adult_age (20)"),
        ({VF_LIMIT: "vertebral_fracture_t_limit = -2.5"},
         "treatment.vertebral_fracture_t_limit: must be greater than diagnosis.osteoporosis_t "
         "(-2.5) with treatment.vertebral_fracture_categories = [osteopenia], or "
         "TX-VERTEBRAL-FX can never fire"),
        ({VF_LIMIT: "vertebral_fracture_t_limit = -1.0"},
         "treatment.vertebral_fracture_t_limit: must be less than diagnosis.normal_t (-1) with "
         'treatment.vertebral_fracture_categories = [osteopenia], or use "none" (this limit '
         "changes nothing)"),
        ({VF_CATEGORIES: 'vertebral_fracture_categories = ["normal"]'},
         "treatment.vertebral_fracture_t_limit: must be at least diagnosis.normal_t (-1) with "
         "treatment.vertebral_fracture_categories = [normal], or TX-VERTEBRAL-FX can never "
         "fire"),
        ({VF_CATEGORIES: 'vertebral_fracture_categories = ["osteoporosis"]'},
         "treatment.vertebral_fracture_t_limit: must be less than diagnosis.osteoporosis_t "
         "(-2.5) with treatment.vertebral_fracture_categories = [osteoporosis], or use "
         '"none" (this limit changes nothing)'),
    ],
)
def test_cross_field_errors_name_file_and_keys(tmp_path, changes: dict[str, str],
                                               message: str) -> None:
    """Values valid alone but contradicting each other are errors naming every key."""
    text = LIMITED_TEXT
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new, 1)
    assert _error(tmp_path, text) == message


@pytest.mark.parametrize(
    "changes",
    [
        {"men_who_age = 50": "men_who_age = 20", "menopause_assumed_age = 50":
         "menopause_assumed_age = 20"},
        {VF_LIMIT: "vertebral_fracture_t_limit = -2.4"},
        {VF_LIMIT: "vertebral_fracture_t_limit = -1.1"},
        {VF_CATEGORIES: 'vertebral_fracture_categories = ["osteopenia", "normal"]',
         VF_LIMIT: "vertebral_fracture_t_limit = -0.5"},
        {VF_CATEGORIES: 'vertebral_fracture_categories = ["osteoporosis", "osteopenia"]',
         VF_LIMIT: "vertebral_fracture_t_limit = -3.0"},
        {VF_CATEGORIES: 'vertebral_fracture_categories = ["normal"]',
         VF_LIMIT: "vertebral_fracture_t_limit = -1.0"},
        {VF_LIMIT: 'vertebral_fracture_t_limit = "none"', "frax_hip_pct = 3 ":
         "frax_hip_pct = 0.1 ", "frax_major_pct = 20 ": "frax_major_pct = 100 "},
    ],
)
def test_cross_field_edges_load(tmp_path, changes: dict[str, str]) -> None:
    """The limits of the cross-field checks are themselves allowed."""
    text = LIMITED_TEXT
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new, 1)
    assert load_ruleset(_write(tmp_path, text)).label == "core-2025@3"


def test_listing_keeps_valid_rulesets_beside_a_bad_one(tmp_path) -> None:
    """One invalid file in the folder is an error entry, not a failed listing."""
    shipped = Path(__file__).parents[2] / "rulesets"
    for name in ("core-2025.toml", "bhof-2022.toml"):
        (tmp_path / name).write_text((shipped / name).read_text())
    broken = CORE_TEXT.replace('id = "core-2025"', 'id = "broken"').replace(
        "frax_hip_pct = 3 ", "frax_hip_pct = 105 ")
    (tmp_path / "broken.toml").write_text(broken)
    (tmp_path / "garbled.toml").write_text("id = ")
    (tmp_path / "renamed.toml").write_text(CORE_TEXT)  # id does not match the file name
    (tmp_path / "notes.txt").write_text("not a ruleset")

    listing = available_rulesets(tmp_path)
    assert [entry.label for entry in listing] == [
        "bhof-2022@3", "broken@invalid", "core-2025@3", "garbled@invalid", "renamed@invalid"]
    good = [e for e in listing if isinstance(e, Ruleset)]
    assert [r.path for r in good] == [str(tmp_path / "bhof-2022.toml"),
                                      str(tmp_path / "core-2025.toml")]
    problems = {e.id: e for e in listing if isinstance(e, RulesetProblem)}
    assert problems["broken"].error == (
        f"{tmp_path / 'broken.toml'}: treatment.frax_hip_pct: must be a number greater than "
        "0 and at most 100")
    assert problems["broken"].title == "INVALID: " + problems["broken"].error
    assert problems["garbled"].error.startswith(
        f"{tmp_path / 'garbled.toml'}: not valid TOML")
    assert problems["renamed"].error == (
        f"{tmp_path / 'renamed.toml'}: id: must be 'renamed', the file's name")


def test_shipped_listing_has_no_problems() -> None:
    assert all(isinstance(entry, Ruleset) for entry in available_rulesets())


def test_bare_name_of_a_file_in_the_current_directory_is_a_path(tmp_path,
                                                                monkeypatch) -> None:
    """`--ruleset myrules` loads ./myrules; a shipped ID is never shadowed by a file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myrules").write_text(TEST_RULESET.read_text())
    loaded = load_ruleset("myrules")
    assert loaded.label == "test-lenient@4"
    assert loaded.path == "myrules"
    (tmp_path / "core-2025").write_text(TEST_RULESET.read_text())
    assert load_ruleset("core-2025").path == "rulesets/core-2025.toml"
    (tmp_path / "folder").mkdir()
    with pytest.raises(RulesetError, match=r"^rulesets/folder\.toml: unknown ruleset"):
        load_ruleset("folder")
    (tmp_path / "bad").write_text(CORE_TEXT.replace("bmi = 19 ", ""))
    with pytest.raises(RulesetError, match=r"^bad: risk\.bmi: missing key$"):
        load_ruleset("bad")


def test_missing_section(tmp_path) -> None:
    text = re.sub(r"\[sites\]\nspine_min_vertebrae = 2[^\n]*\n", "", CORE_TEXT)
    assert _error(tmp_path, text) == "sites: missing section"


def test_invalid_toml(tmp_path) -> None:
    assert _error(tmp_path, "id = ").startswith("not valid TOML")


def test_unknown_id_and_missing_file() -> None:
    with pytest.raises(RulesetError, match=r"^rulesets/nope\.toml: unknown ruleset 'nope'"):
        load_ruleset("nope")
    with pytest.raises(RulesetError, match="no such ruleset file"):
        load_ruleset("/no/such/file.toml")


def test_third_ruleset_needs_no_code_change(lenient) -> None:
    """test-lenient.toml lives only in tests/rules/data and changes every threshold."""
    assert lenient.label == "test-lenient@4"
    assert load_ruleset(str(TEST_RULESET)).label == "test-lenient@4"
    # adult from 18; a woman of 44 with status unknown is premenopausal (assumed at 45).
    assert assess(lenient, age_years=18.0, menopausal_status="pre",
                  femoral_neck_z=-2.5)["z_category"] == "below_expected_range"
    assert assess(lenient, age_years=44.0, menopausal_status=None,
                  femoral_neck_z=-1.0)["basis"] == "iscd_z_score"
    # men on the WHO basis from 60; T cut-offs -3.0 / -1.5.
    assert assess(lenient, sex="M", age_years=59.0, femoral_neck_z=0.0)["basis"] == (
        "iscd_z_score")
    assert assess_worked(lenient, femoral_neck_t=-2.9)["who_category"] == "osteopenia"
    assert assess_worked(lenient, femoral_neck_t=-3.0)["who_category"] == "osteoporosis"
    assert assess_worked(lenient, femoral_neck_t=-1.5)["who_category"] == "normal"
    # normal BMD gets a repeat date (60 months); fragility fracture -> consider, 18 months.
    normal = assess_worked(lenient, femoral_neck_t=-1.4)
    assert normal["next_dxa_due"] == dt.date(2030, 3, 14)
    assert normal["reasons"][-1] == "MON-NORMAL"
    fracture = assess_worked(lenient, prior_fragility_fracture=True)
    assert fracture["treatment"] == "consider"
    assert fracture["first_line_therapy"] == "test therapy"
    assert fracture["next_dxa_due"] == dt.date(2028, 3, 14)  # untreated osteopenia: 36 mo
    # vertebral fracture qualifies in normal BMD down to T <= -1.2 ...
    assert assess_worked(lenient, femoral_neck_t=-1.2, vertebral_fracture=True)[
        "treatment"] == "recommended"
    assert assess_worked(lenient, femoral_neck_t=-1.1, vertebral_fracture=True)[
        "treatment"] == "not_indicated"
    # ... and risk features do not change the decision.
    assert assess_worked(lenient, current_smoker=True)["treatment"] == "not_indicated"
    assert assess_worked(lenient, bmi=18.4)["high_risk_features"] == ["RF-LOW-BMI"]
    assert assess_worked(lenient, bmi=18.5)["high_risk_features"] == []


THERAPY = "oral bisphosphonate (alendronate 70 mg weekly, or risedronate)"


@pytest.mark.parametrize(
    ("changes", "core_treatment", "bhof_treatment"),
    [
        ({}, "not_indicated", "not_indicated"),
        ({"frax_hip_pct": 2.9}, "not_indicated", "not_indicated"),
        ({"frax_hip_pct": 4.0}, "consider", "recommended"),  # version 3: hip >= 3%
        ({"frax_hip_pct": 4.0, "frax_major_pct": None}, "consider", "recommended"),
        ({"frax_hip_pct": 5.0}, "recommended", "recommended"),  # VHR-FRAX: hip > 4.5%
        ({"frax_major_pct": 25.0}, "consider", "recommended"),
        ({"femoral_neck_t": -0.5, "vertebral_fracture": True}, "recommended", "recommended"),
        # bhof-2022 by fracture site (section 5); core-2025: any site is TX-FRAGILITY-FX
        ({"prior_fragility_fracture": True, "prior_fracture_sites": ["hip"],
          "femoral_neck_t": -0.5}, "recommended", "recommended"),
        ({"prior_fragility_fracture": True, "prior_fracture_sites": ["forearm"]},
         "recommended", "consider"),
        ({"prior_fragility_fracture": True, "prior_fracture_sites": ["forearm"],
          "femoral_neck_t": -0.5}, "recommended", "not_indicated"),
        ({"prior_fragility_fracture": True, "prior_fracture_sites": ["other"]},
         "recommended", "not_indicated"),
        ({"prior_fragility_fracture": True, "prior_fracture_sites": ["other"],
          "frax_hip_pct": 3.0}, "recommended", "recommended"),
        ({"prior_fragility_fracture": True, "femoral_neck_t": -0.5}, "recommended",
         "recommended"),
        ({"on_treatment": True}, "on_treatment", "on_treatment"),
        ({"femoral_neck_t": -1.2, "vertebral_fracture": True}, "recommended", "recommended"),
        ({"femoral_neck_t": -1.8, "vertebral_fracture": True}, "recommended", "recommended"),
        ({"current_smoker": True}, "not_indicated", "not_indicated"),  # FRAX counted it
        ({"current_smoker": True, "frax_hip_pct": None}, "consider", "needs_risk_assessment"),
        ({"frax_hip_pct": None}, "needs_risk_assessment", "needs_risk_assessment"),
        ({"femoral_neck_t": -2.5}, "recommended", "recommended"),
        ({"prior_fragility_fracture": True}, "recommended", "recommended"),
        ({"femoral_neck_t": -0.5}, "not_indicated", "not_indicated"),
    ],
)
def test_rulesets_differ_where_sections_4_and_5_say(core, bhof, changes, core_treatment,
                                             bhof_treatment) -> None:
    a, b = assess_worked(core, **changes), assess_worked(bhof, **changes)
    assert (a["treatment"], b["treatment"]) == (core_treatment, bhof_treatment)
    for column in ("basis", "diagnostic_site", "who_category", "high_risk_features",
                   "risk_factor_count", "secondary_cause_workup", "vfa_recommended"):
        assert a[column] == b[column]


def test_bhof_normal_bmd_vertebral_fracture_reasons(bhof) -> None:
    row = assess_worked(bhof, femoral_neck_t=-0.5, vertebral_fracture=True)
    assert row["reasons"] == ["BASIS-WHO", "SITE-LOWEST", "WHO-NORMAL", "RF-VERTEBRAL-FX",
                              "BHOF-HIP-VERTEBRAL-FX", "MON-TREATED", "LIFESTYLE"]
    assert row["first_line_therapy"] == THERAPY
    assert row["next_dxa_due"] == dt.date(2026, 3, 14)
