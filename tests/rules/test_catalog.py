"""The one rule catalog: IDs and order, what a clinician signs off, docs/rules.md current."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from rules_helpers import frame
from strategies import batches

from transforms import serial, treatment_course
from transforms.rules.catalog import (
    DECISION_RULE_IDS,
    RULES,
    RULES_BY_ID,
    render_catalog,
    rule_rows,
    rules_of,
)
from transforms.rules.decide import decide
from transforms.rules.ruleset import PARAMETER_KEYS, load_ruleset

DOCS = Path(__file__).parents[2] / "docs" / "rules.md"
CORE, BHOF, OC = load_ruleset("core-2025"), load_ruleset("bhof-2022"), load_ruleset("oc-2010")

SPEC_ORDER = [
    "BASIS-WHO", "BASIS-ISCD-Z", "BASIS-PEDIATRIC", "MENO-ASSUMED", "MENO-UNKNOWN-LOW-BMD",
    "SITE-LOWEST", "SITE-RADIUS", "SITE-SPINE-MIN2",
    "WHO-OSTEOPOROSIS", "WHO-OSTEOPENIA", "WHO-NORMAL", "Z-BELOW", "Z-WITHIN",
    "TSCORE-FROM-BMD",
    "RF-FRAGILITY-FX", "RF-GLUCOCORTICOID", "RF-PARENT-HIP-FX", "RF-HEIGHT-LOSS",
    "RF-VERTEBRAL-FX", "RF-LOW-BMI", "RF-SMOKING", "RF-ALCOHOL", "RF-AGE65-PLUS",
    "GC-LONG-TERM",
    "FRAX-ADJ-GLUCOCORTICOID", "FRAX-ADJ-SPINE-OFFSET",
    "TX-FRAGILITY-FX", "TX-OSTEOPOROSIS", "TX-VERTEBRAL-FX", "TX-OSTEOPOROSIS-HISTORY",
    "TX-FRAX-HIGH", "TX-RISK-FEATURES", "TX-FRAX-MISSING", "TX-LOW-RISK", "TX-NORMAL",
    "BHOF-HIP-VERTEBRAL-FX", "BHOF-FX-SITE-UNKNOWN", "BHOF-OSTEOPOROSIS",
    "BHOF-OSTEOPOROSIS-HISTORY", "BHOF-FRAX-HIGH", "BHOF-FX-OTHER-LOW-BMD",
    "BHOF-FRAX-MISSING", "BHOF-LOW-RISK",
    "OC-HIGH", "OC-MODERATE", "OC-LOW", "OC-NOT-COMPUTABLE",
    "TX-ON-TREATMENT", "TX-DRUG-HOLIDAY",
    "VHR-VERY-LOW-T", "VHR-FRAX", "VHR-MULTIPLE-FX", "VHR-FX-ON-TREATMENT", "VHR-RECENT-FX",
    "VHR-FX-GLUCOCORTICOID", "VHR-ESCALATE",
    "CAROC-BASAL", "CAROC-SPINE-HIP", "CAROC-FX", "CAROC-GLUCOCORTICOID", "CAROC-BOTH",
    "CAROC-HIP-VERTEBRAL-FX",
    "WORKUP-LOW-Z", "WORKUP-Z-FRACTURE", "VFA-INDICATED", "VFA-ISCD-2019", "MON-TREATED",
    "MON-UNTREATED", "MON-GLUCOCORTICOID", "MON-Z-FRACTURE", "MON-NORMAL", "LIFESTYLE",
    "GC-RISK-REVIEW", "MON-OVERDUE", "MON-CAROC",
    "HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS", "HX-CENTRAL-SITE",
]
#: Decided elsewhere: at report time, by the serial step, by the history stage, after
#: the decision (the treatment course).
AFTER_THE_DECISION = (*serial.RULES, *treatment_course.RULES)
NOT_DECIDED_PER_EXAM = {"MON-OVERDUE", "TSCORE-FROM-BMD", *(rule.id for rule in AFTER_THE_DECISION),
                        "HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS",
                        "HX-CENTRAL-SITE"}


def test_catalog_ids_and_order() -> None:
    ids = [rule.id for rule in RULES]
    assert ids[: len(SPEC_ORDER)] == SPEC_ORDER
    assert [r.id for r in AFTER_THE_DECISION] == ids[len(SPEC_ORDER):]
    assert tuple(i for i in ids if i not in NOT_DECIDED_PER_EXAM) == DECISION_RULE_IDS
    for rule in RULES:
        assert rule.wording and rule.source
        assert set(rule.params) <= set(PARAMETER_KEYS), rule.id


def test_departures_of_section_9_sit_beside_their_rules() -> None:
    departing = {rule.id for rule in RULES if rule.departure}
    assert {"TX-FRAX-HIGH", "TX-VERTEBRAL-FX", "RF-GLUCOCORTICOID", "RF-PARENT-HIP-FX",
            "RF-LOW-BMI", "MON-UNTREATED", "CHG-LSC", "VFA-INDICATED", "TX-FRAGILITY-FX",
            "TX-RISK-FEATURES", "FRAX-ADJ-GLUCOCORTICOID", "FRAX-ADJ-SPINE-OFFSET",
            "TX-OSTEOPOROSIS-HISTORY", "HX-OSTEOPOROSIS-PERSISTS", "OC-HIGH"} <= departing
    assert "3%" in RULES_BY_ID["TX-FRAX-HIGH"].departure
    assert "recommended at any T-score" in RULES_BY_ID["TX-VERTEBRAL-FX"].departure


def test_caveats_of_section_11_sit_beside_their_rules() -> None:
    """CAROC is calibrated on Canadian data; FRAX adjustments are rules of thumb."""
    caveats = {rule.id: rule.caveat for rule in RULES if rule.caveat}
    assert {"FRAX-ADJ-GLUCOCORTICOID", "FRAX-ADJ-SPINE-OFFSET"} <= set(caveats)
    assert all("not a FRAX calculation" in caveats[r] for r in (
        "FRAX-ADJ-GLUCOCORTICOID", "FRAX-ADJ-SPINE-OFFSET"))
    for rule in ("CAROC-BASAL", "CAROC-SPINE-HIP", "CAROC-HIP-VERTEBRAL-FX", "OC-HIGH",
                 "OC-MODERATE", "OC-LOW"):
        assert "calibrated on Canadian data" in caveats[rule], rule
    for fmt in ("text", "markdown"):
        shown = " ".join(render_catalog(fmt).split())
        assert shown.count("caveat: ") == len(caveats)


def test_what_input_formats_cannot_tell_sits_beside_the_rules_it_changes() -> None:
    """APEX, Lunar and NHANES hold no on_treatment: CHG-LOSS can only warn, TX-ON-TREATMENT
    never fires; likewise FRAX, the risk-factor questionnaire and menopausal status."""
    limited = {rule.id: rule.input_limits for rule in RULES if rule.input_limits}
    assert set(limited) == {"CHG-LOSS", "TX-ON-TREATMENT", "MON-TREATED", "RF-FRAGILITY-FX",
                            "TX-FRAX-MISSING", "BHOF-FRAX-MISSING", "MENO-ASSUMED",
                            "TSCORE-FROM-BMD"}
    loss = limited["CHG-LOSS"]
    assert "APEX" in loss and "on_treatment" in loss and "unless a registry joins" in loss
    assert "never LOSS_ON_TREATMENT (high)" in loss
    for fmt in ("text", "markdown"):
        shown = " ".join(render_catalog(fmt).split())
        assert "what input formats cannot tell: APEX, Lunar and NHANES inputs hold no "\
               "on_treatment" in shown
        assert shown.count("what input formats cannot tell") == len(limited)


def test_bhof_lines_are_sourced_to_bhof_not_the_article() -> None:
    for rule in rules_of(BHOF):
        if rule.kind in ("indication", "fallback"):
            assert rule.id.startswith("BHOF-")
            assert rule.source.startswith("BHOF Clinician's Guide 2022"), rule.id


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_render_lists_every_rule_with_every_rulesets_values(fmt: str) -> None:
    text = render_catalog(fmt)
    entry = "\n| `{}` |" if fmt == "markdown" else "\n{}  ["
    positions = [text.index(entry.format(rule.id)) for rule in RULES]
    assert positions == sorted(positions)
    flat = " ".join(text.split())
    assert "treatment.frax_hip_pct = 3" in flat and "very_high_risk.frax_hip_pct = 4.5" in flat
    assert "monitoring.normal_months = none" in flat
    assert "caroc.low_months = 60" in flat and "caroc.low_months = none" in flat
    assert "core-2025@3" in flat and "bhof-2022@3" in flat and "oc-2010@3" in flat
    assert "not in this ruleset" in flat  # a line one ruleset does not list
    # the CHG rules name the precision file and its defaults
    assert "config/precision.toml" in flat and "spine 1.9%" in flat


def test_render_markdown_table_has_a_column_per_shipped_ruleset() -> None:
    lines = render_catalog("markdown").splitlines()
    header = next(line for line in lines if line.startswith("| ID |"))
    assert "| core-2025@3 values | bhof-2022@3 values | oc-2010@3 values |" in header
    assert sum(line.startswith("| `") for line in lines) == len(RULES)


def test_render_one_ruleset() -> None:
    text = render_catalog("text", CORE)
    flat = " ".join(text.split())
    assert ("core-2025@3: line = 5; level = consider; treatment.frax_hip_pct = 3; "
            "treatment.frax_major_pct = 20") in flat
    assert "bhof-2022@3" not in text


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown catalog format"):
        render_catalog("html")


def test_docs_rules_md_is_current() -> None:
    """docs/rules.md is generated: regenerate with `dxa rules --markdown --output
    docs/rules.md` whenever a rule or a shipped ruleset changes."""
    assert DOCS.read_text(encoding="utf-8") == render_catalog("markdown"), (
        "docs/rules.md is stale: run dxa rules --markdown --output docs/rules.md")


def test_rule_rows_carry_values_for_each_ruleset() -> None:
    core, bhof = rule_rows(CORE), rule_rows(BHOF)
    tx = core.filter(rule_id="TX-VERTEBRAL-FX").row(0, named=True)
    assert {p["key"]: p["value"] for p in tx["parameters"]} == {
        "line": "3", "level": "recommended",
        "treatment.vertebral_fracture_categories": "[osteoporosis, osteopenia, normal]",
        "treatment.vertebral_fracture_t_limit": "none"}
    assert "TX-VERTEBRAL-FX" not in bhof["rule_id"].to_list()
    assert "BHOF-LOW-RISK" not in core["rule_id"].to_list()
    caroc = core.filter(rule_id="CAROC-BASAL").row(0, named=True)
    assert "calibrated on Canadian data" in caroc["caveat"]
    oc = rule_rows(OC).filter(rule_id="MON-CAROC").row(0, named=True)
    assert {p["key"]: p["value"] for p in oc["parameters"]} == {
        "caroc.high_months": "12", "caroc.moderate_months": "24", "caroc.low_months": "60",
        "caroc.not_computed_months": "24"}


@settings(max_examples=30, deadline=None)
@given(rows=batches())
def test_every_rule_the_engine_emits_is_in_the_rules_of_its_ruleset(rows) -> None:
    """The `rules` table (rule_rows) holds every rule ID a decision can carry, with
    wording, under each shipped ruleset."""
    for ruleset in (CORE, BHOF, OC):
        emitted = decide(frame(rows), ruleset).assessments.select(
            pl.concat_list("reasons", "caroc_reasons").explode().drop_nulls().unique()
        ).to_series().to_list()
        held = set(rule_rows(ruleset)["rule_id"])
        assert set(emitted) <= held, ruleset.label
        assert all(RULES_BY_ID[i].wording for i in emitted)
