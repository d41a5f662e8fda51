"""`dxa rules --ruleset PATH --diff core-2025`: how a ruleset file departs from a shipped one.

The rules are data: two rulesets differ only in their parameters, so the diff lists each
parameter whose value differs (dotted key, both values), then the file lines that differ
(a unified diff of the two texts), so a reviewer sees both the meaning and the edit.
"""

from __future__ import annotations

import difflib
from typing import Any

from pipelines.registry.rulesets import ruleset_file
from transforms.rules.ruleset import Ruleset, load_ruleset

#: fields that say where a ruleset came from, not what it decides
NOT_PARAMETERS = {"path"}


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, f"{name}."))
        elif name not in NOT_PARAMETERS:
            flat[name] = value
    return flat


def parameter_changes(base: Ruleset, other: Ruleset) -> list[tuple[str, Any, Any]]:
    """(dotted key, base value, other value) for every parameter that differs."""
    a, b = _flat(base.model_dump()), _flat(other.model_dump())
    return [(key, a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys())
            if a.get(key) != b.get(key)]


def render_diff(path: str, base_ref: str) -> str:
    """The parameters, then the lines, in which `path` differs from `base_ref`."""
    base, other = load_ruleset(base_ref), load_ruleset(path)
    changes = parameter_changes(base, other)
    lines = [f"{other.label} ({other.path}) against {base.label} ({base.path}):",
             f"{len(changes)} parameters differ"]
    lines += [f"  {key}: {old!r} -> {new!r}" for key, old, new in changes]
    text_a = ruleset_file(base).read_text(encoding="utf-8").splitlines()
    text_b = ruleset_file(other).read_text(encoding="utf-8").splitlines()
    diff = list(difflib.unified_diff(text_a, text_b, base.path, other.path, lineterm=""))
    lines += ["", "lines:" if diff else "lines: identical", *diff]
    return "\n".join(lines) + "\n"
