"""Clinical rules engine (clinical-rules.md sections 1-6).

- `ruleset`: rulesets are validated TOML data (`load_ruleset`, `available_rulesets`).
- `catalog`: the one rule catalog (`RULES`, `render_catalog`) for `dxa rules`.
- `decide`: vectorized decisions (`decide(exams, ruleset) -> Decisions`).
The stage modules (basis, sites, diagnosis, risk, treatment, followup, outputs, flags)
each decide one part; see `decide.py` for how they chain.
"""
