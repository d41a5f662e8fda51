"""Fixtures of the transforms tests: the shipped precision table."""

from __future__ import annotations

import pytest

from transforms.precision import PrecisionTable, load_precision


@pytest.fixture(scope="module")
def default() -> PrecisionTable:
    """The shipped precision table (`config/precision.toml`)."""
    return load_precision()
