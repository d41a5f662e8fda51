"""Fixtures for the rules tests: the shipped rulesets and the test-only third one."""

from __future__ import annotations

import pytest
from rules_helpers import TEST_RULESET

from transforms.rules.ruleset import Ruleset, load_ruleset


@pytest.fixture(scope="session")
def core() -> Ruleset:
    return load_ruleset("core-2025")


@pytest.fixture(scope="session")
def bhof() -> Ruleset:
    return load_ruleset("bhof-2022")


@pytest.fixture(scope="session")
def lenient() -> Ruleset:
    return load_ruleset(TEST_RULESET)


@pytest.fixture(scope="session")
def oc() -> Ruleset:
    return load_ruleset("oc-2010")
