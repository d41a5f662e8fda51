"""Ruleset files (TOML): thresholds and switches of the clinical rules, one file per ruleset."""
