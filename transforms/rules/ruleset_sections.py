"""The tables of a ruleset file that version 3 of the clinical rules added.

`[frax_adjustment]` (clinical-rules.md section 4a), `[very_high_risk]` (4b) and `[caroc]`
(5a) are read by every ruleset, so each file states its own values: the label `id@version`
written beside a decision then fixes every number that produced it, the CAROC tables
included (a table shared between files could change under a ruleset whose version did
not). Bounds and messages as in `transforms.rules.ruleset`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from transforms.config_errors import CrossFieldError
from transforms.rules.ruleset_fields import T_RANGE, TEXT, Section, number, whole

#: A multiplying factor that may only raise a probability (section 4a).
_FACTOR = Annotated[float, Field(strict=True, ge=1, le=10,
                                 description="must be a number between 1 and 10")]


class FraxAdjustment(Section):
    """FRAX-ADJ-GLUCOCORTICOID and FRAX-ADJ-SPINE-OFFSET factors (ISCD/IOF 2011)."""

    glucocorticoid_major_factor: _FACTOR
    glucocorticoid_hip_factor: _FACTOR
    spine_offset_t: Annotated[float, Field(
        strict=True, gt=0, le=10, description="must be a number greater than 0 and at most 10")]
    spine_offset_major_per_t: Annotated[float, Field(
        strict=True, ge=0, le=1, description="must be a number between 0 and 1")]


class VeryHighRisk(Section):
    """The VHR-* lines' thresholds and the therapy text of a very-high-risk exam (4b)."""

    very_low_t: number(*T_RANGE)
    frax_major_pct: number(0, 100)
    frax_hip_pct: number(0, 100)
    fracture_sites: whole(2, 20)
    recent_fracture_days: whole(1, 36500)
    first_line_therapy: TEXT


class CarocRow(Section):
    """One age row of a CAROC table: low above `low_above`, high below `high_below`."""

    age: whole(0, 130)
    low_above: number(*T_RANGE)
    high_below: number(*T_RANGE)


_ROWS = Annotated[tuple[CarocRow, ...], Field(
    min_length=1,
    description="must be a non-empty list of rows: { age = ..., low_above = ..., "
    "high_below = ... }")]


def _table_problem(key: str, rows: tuple[CarocRow, ...]) -> tuple[str, str] | None:
    """Ages strictly rising (a row covers its age up to the next row's), cuts in order."""
    for i, row in enumerate(rows):
        if i and row.age <= rows[i - 1].age:
            return f"caroc.{key}[{i}].age", "must be greater than the row above's age"
        if row.high_below > row.low_above:
            return (f"caroc.{key}[{i}].high_below",
                    f"must be at most caroc.{key}[{i}].low_above ({row.low_above:g})")
    return None


class Caroc(Section):
    """CAROC basal tables by sex, CAROC-SPINE-HIP's cut and MON-CAROC's intervals (5a).

    A row covers the ages from its `age` up to the next row's; the last row every older
    age; below the first row nothing is computed. The intervals are "none" in a ruleset
    that does not follow up by CAROC (MON-CAROC never fires there).
    """

    spine_hip_t: number(*T_RANGE)
    women: _ROWS
    men: _ROWS
    high_months: whole(1, 1200, off=True)
    moderate_months: whole(1, 1200, off=True)
    low_months: whole(1, 1200, off=True)
    not_computed_months: whole(1, 1200, off=True)

    @model_validator(mode="after")
    def _ordered(self) -> Caroc:
        for key in ("women", "men"):
            problem = _table_problem(key, getattr(self, key))
            if problem is not None:
                raise CrossFieldError(*problem)
        return self
