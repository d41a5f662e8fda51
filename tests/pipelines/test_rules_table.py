"""The registry's `rules` table: every rule of each ruleset used, with its values."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.registry.rules_table import record_rules
from pipelines.registry.store import registry
from transforms.rules.catalog import DECISION_RULE_IDS, rules_of
from transforms.rules.ruleset import load_ruleset

RULESETS = ("core-2025", "bhof-2022", "oc-2010")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "r.duckdb"


def test_rules_written_once_per_rule_and_ruleset(db: Path) -> None:
    with registry(db) as con:
        for name in (*RULESETS, "core-2025"):  # the second core run replaces, not adds
            record_rules(con, load_ruleset(name))
        counts = dict(con.sql("SELECT ruleset, count(*) FROM rules GROUP BY 1").fetchall())
        assert counts == {load_ruleset(n).label: len(rules_of(load_ruleset(n)))
                          for n in RULESETS}
        assert con.sql("SELECT count(*) FROM (SELECT DISTINCT rule_id, ruleset FROM rules)"
                       ).fetchall()[0][0] == sum(counts.values())


def test_every_engine_rule_has_wording_and_values_for_every_ruleset(db: Path) -> None:
    with registry(db) as con:
        for name in RULESETS:
            record_rules(con, load_ruleset(name))
        held_by_any: set[str] = set()
        for name in RULESETS:
            ruleset = load_ruleset(name)
            held = {row[0] for row in con.sql(
                "SELECT rule_id FROM rules WHERE ruleset = ? AND wording <> ''",
                params=[ruleset.label]).fetchall()}
            assert held == {rule.id for rule in rules_of(ruleset)}, name
            held_by_any |= held
        assert set(DECISION_RULE_IDS) <= held_by_any  # each line in some shipped ruleset
        core, bhof, _ = (load_ruleset(n).label for n in RULESETS)
        values = dict(con.sql(
            "SELECT ruleset, parameters['treatment.frax_hip_pct'] FROM rules"
            " WHERE rule_id IN ('TX-FRAX-HIGH', 'BHOF-FRAX-HIGH')").fetchall())
        assert values == {core: "3", bhof: "3"}


def test_reasons_join_to_wording(db: Path) -> None:
    """What the README promises a SQL user: reasons joined to the rules' wording."""
    with registry(db) as con:
        core = load_ruleset("core-2025")
        record_rules(con, core)
        con.execute("CREATE TEMP TABLE a AS SELECT 'E1' AS exam_id, ? AS ruleset,"
                    " ['BASIS-WHO', 'WHO-OSTEOPENIA'] AS reasons", [core.label])
        rows = con.sql(
            "SELECT u.rule_id, r.kind, r.wording FROM a, unnest(a.reasons) AS u(rule_id)"
            " JOIN rules r ON r.rule_id = u.rule_id AND r.ruleset = a.ruleset ORDER BY 1"
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [("BASIS-WHO", "basis"),
                                                ("WHO-OSTEOPENIA", "category")]
        assert rows[1][2].startswith("WHO basis: osteoporosis_t < T < normal_t")
