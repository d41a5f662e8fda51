"""Connects the pipeline to the rules engine (`transforms.rules`): ruleset and decider."""

from __future__ import annotations

from functools import cache

import polars as pl

from pipelines.ingest.judge import Decider
from transforms.rules.decide import decide
from transforms.rules.ruleset import Ruleset, load_ruleset


@cache
def resolve_ruleset(ref: str) -> Ruleset:
    """A ruleset by id (`core-2025`) or by path to a TOML file; validated on load."""
    return load_ruleset(ref)


def decider_for(ruleset: Ruleset) -> Decider:
    """decide() bound to one ruleset, returning (assessments, flags)."""

    def run(exams: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        decisions = decide(exams, ruleset)
        return decisions.assessments, decisions.flags

    return run
