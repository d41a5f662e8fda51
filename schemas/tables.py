"""The shapes of the derived tables the pipeline writes, defined once.

The rules (`transforms.rules.flags`), the serial comparison (`transforms.serial`) and the
registry's migrations must agree on these columns; the frames are cast to them here, and
a test holds the migrated tables to them (`tests/schemas/test_tables.py`). Each shape is
the table without `run_id`, which the loader stamps on every row.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: `flags`: one row per flag raised on an exam (`ruleset` null for ruleset-free flags).
FLAG_SCHEMA: Final[dict[str, pl.DataType]] = {
    "exam_id": pl.String(),
    "code": pl.String(),
    "severity": pl.String(),
    "detail": pl.String(),
    "ruleset": pl.String(),
}

#: `bmd_changes`: one row per exam, site and comparison with an earlier exam.
CHANGE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "exam_id": pl.String(),
    "site": pl.String(),
    "comparison": pl.String(),
    "prior_exam_id": pl.String(),
    "bmd_g_cm2": pl.Float64(),
    "prior_bmd_g_cm2": pl.Float64(),
    "pct_change": pl.Float64(),
    "lsc_pct": pl.Float64(),
    "lsc_source": pl.String(),
    "significant": pl.Boolean(),
    "direction": pl.String(),
    "days_between": pl.Int32(),
    "region_verified": pl.Boolean(),
}

#: Derived table -> its shape.
TABLES: Final[dict[str, dict[str, pl.DataType]]] = {
    "flags": FLAG_SCHEMA,
    "bmd_changes": CHANGE_SCHEMA,
}
