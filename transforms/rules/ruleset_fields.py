"""The kinds of value a ruleset file holds, each with the message that says what it must be.

Why a module of its own: every section model of `ruleset` is built from these few types
(a bounded number, a threshold above zero, a whole number that "none" may switch off, a
non-empty text), so each bound and its wording are written once.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

#: The word a ruleset uses to switch a treatment line or a monitoring interval off.
NONE = "none"


def none_is_off(value: Any) -> Any:
    """The ruleset word "none" (a line or interval switched off) becomes None."""
    return None if value == NONE else value


def number(low: float, high: float) -> Any:
    return Annotated[float, Field(strict=True, ge=low, le=high,
                                  description=f"must be a number between {low:g} and {high:g}")]


def positive(high: float) -> Any:
    """A number in (0, high]: a zero threshold would fire on every recorded value."""
    return Annotated[float, Field(
        strict=True, gt=0, le=high,
        description=f"must be a number greater than 0 and at most {high:g}")]


def whole(low: int, high: int, *, off: bool = False) -> Any:
    tail = f' or "{NONE}"' if off else ""
    message = f"must be a whole number between {low} and {high}{tail}"
    bounded = Annotated[int, Field(strict=True, ge=low, le=high)]
    if off:
        return Annotated[bounded | None, BeforeValidator(none_is_off),
                         Field(description=message)]
    return Annotated[bounded, Field(description=message)]


TEXT = Annotated[str, Field(strict=True, pattern=r"\S", description="must be a non-empty string")]
T = (-10.0, 10.0)
AGE = (0.0, 130.0)


class Section(BaseModel):
    """A table of a ruleset file: every key required, no other key allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
