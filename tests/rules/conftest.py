"""Shared helpers for the rules tests: typed exam frames built from a few fields."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from transforms.columns import CANONICAL_COLUMNS
from transforms.parse import polars_dtype
from transforms.rules.ruleset import Ruleset, load_ruleset

DATA = Path(__file__).parent / "data"
TEST_RULESET = DATA / "test-lenient.toml"
SCHEMA = {name: polars_dtype(kind) for name, kind in CANONICAL_COLUMNS.items()}


def exam(**fields: Any) -> dict[str, Any]:
    """One exam dict: every canonical column, the worked example's woman by default."""
    row: dict[str, Any] = dict.fromkeys(CANONICAL_COLUMNS)
    row.update(
        exam_id="E1",
        patient_id="P1",
        exam_date=dt.date(2025, 3, 14),
        sex="F",
        age_years=62.0,
        menopausal_status="post",
    )
    row.update(fields)
    return row


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A typed exam frame as `decide` receives it."""
    return pl.DataFrame(rows, schema=SCHEMA)


@pytest.fixture(scope="session")
def core() -> Ruleset:
    return load_ruleset("core-2025")


@pytest.fixture(scope="session")
def bhof() -> Ruleset:
    return load_ruleset("bhof-2022")


@pytest.fixture(scope="session")
def lenient() -> Ruleset:
    return load_ruleset(TEST_RULESET)
