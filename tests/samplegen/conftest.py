"""Fixtures of the sample generator's tests."""

from __future__ import annotations

import polars as pl
import pytest

from samplegen.canonical import generate_exams


@pytest.fixture(scope="module")
def exams(request: pytest.FixtureRequest) -> pl.DataFrame:
    """20 000 generated exams of the test module's `SEED`: the size at which the tests
    hold the generator to its documented rates."""
    return generate_exams(20_000, request.module.SEED)
