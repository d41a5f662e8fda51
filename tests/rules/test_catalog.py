"""The one rule catalog: IDs, order, rendering with and without a ruleset."""

from __future__ import annotations

import pytest

from transforms.rules.catalog import DECISION_RULE_IDS, RULES, render_catalog
from transforms.rules.ruleset import PARAMETER_KEYS

SPEC_ORDER = [
    "BASIS-WHO",
    "BASIS-ISCD-Z",
    "BASIS-PEDIATRIC",
    "MENO-ASSUMED",
    "SITE-LOWEST",
    "SITE-RADIUS",
    "SITE-SPINE-MIN2",
    "WHO-OSTEOPOROSIS",
    "WHO-OSTEOPENIA",
    "WHO-NORMAL",
    "Z-BELOW",
    "Z-WITHIN",
    "RF-FRAGILITY-FX",
    "RF-GLUCOCORTICOID",
    "RF-PARENT-HIP-FX",
    "RF-HEIGHT-LOSS",
    "RF-VERTEBRAL-FX",
    "RF-LOW-BMI",
    "RF-SMOKING",
    "RF-ALCOHOL",
    "RF-AGE65-PLUS",
    "TX-FRAGILITY-FX",
    "TX-OSTEOPOROSIS",
    "TX-VERTEBRAL-FX",
    "TX-FRAX-HIGH",
    "TX-RISK-FEATURES",
    "TX-FRAX-MISSING",
    "TX-LOW-RISK",
    "TX-NORMAL",
    "WORKUP-LOW-Z",
    "VFA-INDICATED",
    "MON-TREATED",
    "MON-UNTREATED",
    "MON-NORMAL",
    "LIFESTYLE",
    "MON-OVERDUE",
    "CHG-SAME-SCANNER",
    "CHG-BMD-NOT-T",
    "CHG-LSC",
    "CHG-LOSS",
]
SERIAL = ("CHG-SAME-SCANNER", "CHG-BMD-NOT-T", "CHG-LSC", "CHG-LOSS", "MON-OVERDUE")


def test_catalog_ids_and_order() -> None:
    assert [rule.id for rule in RULES] == SPEC_ORDER
    assert tuple(i for i in SPEC_ORDER if i not in SERIAL) == DECISION_RULE_IDS
    for rule in RULES:
        assert rule.wording and rule.source
        assert set(rule.params) <= set(PARAMETER_KEYS), rule.id


def test_departures_listed() -> None:
    departing = {rule.id for rule in RULES if rule.departure}
    assert departing == {"TX-FRAX-HIGH", "TX-VERTEBRAL-FX", "RF-GLUCOCORTICOID",
                         "RF-PARENT-HIP-FX", "RF-LOW-BMI", "MON-UNTREATED", "CHG-LSC",
                         "VFA-INDICATED"}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_render_lists_every_rule(fmt: str) -> None:
    text = render_catalog(fmt)
    entry = "\n| `{}` |" if fmt == "markdown" else "\n{}  ["
    positions = [text.index(entry.format(rule_id)) for rule_id in SPEC_ORDER]
    assert positions == sorted(positions)
    assert "treatment.frax_hip_pct" in text


def test_render_markdown_table() -> None:
    lines = render_catalog("markdown").splitlines()
    assert lines[2].startswith("| ID | rule | parameters |")
    assert sum(line.startswith("| `") for line in lines) == len(SPEC_ORDER)


def test_render_with_ruleset_shows_values(core, bhof) -> None:
    core_text = render_catalog("text", core)
    assert "core-2025@1" in core_text
    assert "treatment.frax_hip_pct = 5" in core_text
    assert "treatment.vertebral_fracture_t_limit = -1.6" in core_text
    assert "monitoring.normal_months = none" in core_text
    bhof_text = render_catalog("markdown", bhof)
    assert "treatment.frax_hip_pct = 3" in bhof_text
    assert "treatment.vertebral_fracture_t_limit = none" in bhof_text
    assert "treatment.risk_features = none" in bhof_text


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown catalog format"):
        render_catalog("html")


def test_tx_normal_says_it_sits_beside_a_vertebral_fracture() -> None:
    """The literal reading of section 4 (both IDs in reasons) is visible in `dxa rules`."""
    text = " ".join(render_catalog("text").split())
    entry = text[text.index("TX-NORMAL [") : text.index("WORKUP-LOW-Z [")]
    assert "both TX-VERTEBRAL-FX and TX-NORMAL in reasons" in entry
    assert "bhof-2022" in entry
