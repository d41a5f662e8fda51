"""Turn a pydantic validation failure of a configuration file into one readable problem.

Rulesets and the precision file are pydantic models; their users need one line that
names the key (`treatment.frax_hip_pct: must be a number greater than 0 and at most 100`),
not pydantic's report. Each field says what it must be in its `description`, so the
message is written once, beside the field's bounds. The first problem is shown: unknown
keys first (a misspelt key also makes the intended one "missing"), then in file order.
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


def read_config_toml(
    path: Path, shown: str, what: str, error: Callable[[str], Exception]
) -> dict[str, Any]:
    """The TOML table of a configuration file; a missing or unparsable file raises
    `error(message)` naming the file (`shown`) and what it should be (`what`)."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise error(f"{shown}: no such {what} file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{shown}: not valid TOML: {exc}") from exc


class CrossFieldError(ValueError):
    """Raised by a model validator: values valid alone contradict each other at `key`."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def _field_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[tuple[str, ...], str]:
    """The part of `loc` that names a key, and that key's description ('' if none).

    A list of tables is spelt with its index: `treatment.lines[2].level`.
    """
    path: list[str] = []
    current: Any = model
    description = ""
    for part in loc:
        items = typing.get_args(current)
        if isinstance(part, int) and items and _is_model(items[0]) and path:
            path[-1] += f"[{part}]"
            current = items[0]
            continue
        if not _is_model(current):
            break
        field = current.model_fields.get(str(part))
        path.append(str(part))
        if field is None:
            break
        description = field.description or ""
        current = field.annotation
    return tuple(path), description


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def first_problem(
    model: type[BaseModel],
    data: dict[str, Any],
    sections: tuple[str, ...] = (),
    *,
    key_of: Callable[[tuple[Any, ...]], str] | None = None,
    message_of: Callable[[dict[str, Any]], str | None] | None = None,
) -> str | None:
    """`key: message` for the first problem of `data` under `model`, or None if valid.

    `key_of` spells a location as the user wrote it (default: dotted); `message_of` may
    word an error itself (return None to fall back to the rules below).
    """
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        error = errors[0]
    else:
        return None
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, CrossFieldError):
        return f"{cause.key}: {cause.message}"
    path, description = _field_path(model, tuple(error["loc"]))
    key = key_of(tuple(error["loc"])) if key_of else ".".join(path)
    custom = message_of(error) if message_of else None
    if custom is not None:
        message = custom
    elif error["type"] == "missing":
        message = "missing section" if path in ((s,) for s in sections) else "missing key"
    elif error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be a table"
    else:
        message = description or error["msg"]
    return f"{key}: {message}"
