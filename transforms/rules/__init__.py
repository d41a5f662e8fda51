"""Clinical rules engine: rulesets, the rule catalog and vectorized decisions."""
