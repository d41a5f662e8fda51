"""The vectorized engine agrees with the row-by-row oracle on every column and flag."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from oracle import add_months, decide_one
from rules_helpers import TEST_RULESET, frame
from strategies import batches

from transforms.rules.decide import ASSESSMENT_COLUMNS, decide
from transforms.rules.ruleset import load_ruleset

RULESETS = {name: load_ruleset(name) for name in ("core-2025", "bhof-2022")}
RULESETS["test-lenient"] = load_ruleset(TEST_RULESET)


def _flag_key(flag: dict[str, Any]) -> tuple[str, ...]:
    return (flag["exam_id"], flag["code"], flag["severity"], flag["detail"], flag["ruleset"])


@pytest.mark.parametrize("name", list(RULESETS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=batches())
def test_engine_matches_oracle(name: str, rows: list[dict[str, Any]]) -> None:
    ruleset = RULESETS[name]
    decisions = decide(frame(rows), ruleset)
    assert decisions.assessments.columns == list(ASSESSMENT_COLUMNS)
    got = decisions.assessments.to_dicts()
    expected_flags = []
    for row, actual in zip(rows, got, strict=True):
        expected, flags = decide_one(row, ruleset)
        expected_flags += flags
        assert actual == {c: expected[c] for c in ASSESSMENT_COLUMNS}, row
    assert sorted(map(_flag_key, decisions.flags.to_dicts())) == sorted(
        map(_flag_key, expected_flags)
    )


def test_oracle_month_arithmetic_clamps() -> None:
    import datetime as dt

    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 12, 31), 24) == dt.date(2027, 12, 31)
