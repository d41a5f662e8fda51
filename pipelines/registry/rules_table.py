"""The registry's `rules` table: the wording of every rule of each ruleset used.

Written whenever a ruleset is used (a run or a re-assessment), so that a SQL user can
join `assessments.reasons` to the rule's wording, kind, source and this ruleset's
parameter values without the package at hand. Idempotent: the ruleset's rows are
replaced, so there is one row per rule and ruleset however often it runs.
"""

from __future__ import annotations

import duckdb

from pipelines.registry.store import arrow_of
from transforms.rules.catalog import rule_rows
from transforms.rules.ruleset import Ruleset


def record_rules(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> int:
    """Write the ruleset's rules (inside the caller's transaction); the number of rules."""
    rows = rule_rows(ruleset)
    con.register("incoming_rules", arrow_of(rows))
    try:
        con.execute("DELETE FROM rules WHERE ruleset = ?", [ruleset.label])
        con.execute(
            "INSERT INTO rules (rule_id, ruleset, kind, wording, parameters, source,"
            " departure, caveat, implemented_in, recorded_at)"
            " SELECT rule_id, ruleset, kind, wording,"
            " map_from_entries(parameters), source, departure, caveat, implemented_in,"
            " current_timestamp FROM incoming_rules"
        )
    finally:
        con.unregister("incoming_rules")
    return rows.height
