"""Rulesets: every clinical threshold and switch, loaded from a versioned TOML file.

A ruleset is data, not a code fork: the decision code reads only the values held here, so
a new guideline variant is a new file in `rulesets/` (or any path), never a code change.
Files are validated strictly on load so that a typo cannot silently fall back to a
default: an unknown key, a missing key, or a bad value is a `RulesetError` whose message
names the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

#: Treatment levels, most to least urgent (the order properties are tested against).
TREATMENT_LEVELS: tuple[str, ...] = (
    "recommended",
    "consider",
    "needs_risk_assessment",
    "not_indicated",
)
WHO_CATEGORIES: tuple[str, ...] = ("osteoporosis", "osteopenia", "normal")
#: The word a ruleset uses to switch a treatment line or a monitoring interval off.
NONE = "none"


class RulesetError(ValueError):
    """A ruleset file cannot be used; the message names the file and the offending key."""


@dataclass(frozen=True)
class Basis:
    """Ages that choose the classification basis (clinical-rules.md section 1)."""

    adult_age: float
    men_who_age: float
    menopause_assumed_age: float


@dataclass(frozen=True)
class Diagnosis:
    """WHO T-score cut-offs and the ISCD Z-score threshold (section 2)."""

    osteoporosis_t: float
    normal_t: float
    z_threshold: float


@dataclass(frozen=True)
class Sites:
    """Diagnostic site validity (section 2)."""

    spine_min_vertebrae: int


@dataclass(frozen=True)
class Risk:
    """High-risk feature thresholds (section 3)."""

    glucocorticoid_mg_day: float
    glucocorticoid_months: float
    parent_fracture_age: float
    height_loss_cm: float
    bmi: float
    alcohol_units_day: float
    age_plus: float


@dataclass(frozen=True)
class Treatment:
    """Treatment lines (sections 4-5): the level each line sets, or None when off."""

    fragility_fracture: str | None
    osteoporosis: str | None
    vertebral_fracture: str | None
    vertebral_fracture_categories: tuple[str, ...]
    #: None means "at any T-score".
    vertebral_fracture_t_limit: float | None
    frax_high: str | None
    frax_hip_pct: float
    frax_major_pct: float
    risk_features: str | None
    first_line_therapy: str


@dataclass(frozen=True)
class Monitoring:
    """Repeat-DXA intervals in months (section 6); None means no date."""

    treated_months: int | None
    untreated_osteopenia_months: int | None
    normal_months: int | None


@dataclass(frozen=True)
class Ruleset:
    """One validated ruleset. `label` (ID@VERSION) is written beside every decision."""

    id: str
    version: int
    title: str
    source: str
    path: str
    basis: Basis
    diagnosis: Diagnosis
    sites: Sites
    risk: Risk
    treatment: Treatment
    monitoring: Monitoring

    @property
    def label(self) -> str:
        """`ID@VERSION`, e.g. `core-2025@1`."""
        return f"{self.id}@{self.version}"

    def value(self, key: str) -> Any:
        """The value of a dotted parameter key such as `risk.bmi` (used by the catalog)."""
        section, _, name = key.partition(".")
        return getattr(getattr(self, section), name)


# --- validation ------------------------------------------------------------------------

Check = Callable[[Any], tuple[bool, Any]]


def _number(low: float, high: float) -> tuple[Check, str]:
    def check(v: Any) -> tuple[bool, Any]:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and low <= v <= high
        return ok, float(v) if ok else None

    return check, f"must be a number between {low:g} and {high:g}"


def _integer(low: int, high: int, allow_none: bool = False) -> tuple[Check, str]:
    def check(v: Any) -> tuple[bool, Any]:
        if allow_none and v == NONE:
            return True, None
        ok = isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
        return ok, v if ok else None

    tail = f' or "{NONE}"' if allow_none else ""
    return check, f"must be a whole number between {low} and {high}{tail}"


def _number_or_none(low: float, high: float) -> tuple[Check, str]:
    inner, _ = _number(low, high)

    def check(v: Any) -> tuple[bool, Any]:
        return (True, None) if v == NONE else inner(v)

    return check, f'must be a number between {low:g} and {high:g} or "{NONE}"'


def _text(pattern: str | None = None) -> tuple[Check, str]:
    def check(v: Any) -> tuple[bool, Any]:
        ok = isinstance(v, str) and v.strip() != ""
        if ok and pattern is not None:
            ok = re.fullmatch(pattern, v) is not None
        return ok, v if ok else None

    if pattern is None:
        return check, "must be a non-empty string"
    return check, "must be lower-case letters, digits and dashes (e.g. core-2025)"


def _level() -> tuple[Check, str]:
    allowed = (*TREATMENT_LEVELS, NONE)

    def check(v: Any) -> tuple[bool, Any]:
        ok = v in allowed
        return ok, (None if v == NONE else v) if ok else None

    return check, "must be one of " + ", ".join(allowed)


def _categories() -> tuple[Check, str]:
    def check(v: Any) -> tuple[bool, Any]:
        ok = (
            isinstance(v, list)
            and len(v) > 0
            and all(c in WHO_CATEGORIES for c in v)
            and len(set(v)) == len(v)
        )
        return ok, tuple(c for c in WHO_CATEGORIES if c in v) if ok else None

    return check, "must be a non-empty list of distinct values from " + ", ".join(
        WHO_CATEGORIES
    )


_T = (-10.0, 10.0)
_AGE = (0.0, 130.0)
_TOP: dict[str, tuple[Check, str]] = {
    "id": _text(r"[a-z0-9][a-z0-9-]*"),
    "version": _integer(1, 1_000_000),
    "title": _text(),
    "source": _text(),
}
_SECTIONS: dict[str, tuple[type, dict[str, tuple[Check, str]]]] = {
    "basis": (
        Basis,
        {
            "adult_age": _number(*_AGE),
            "men_who_age": _number(*_AGE),
            "menopause_assumed_age": _number(*_AGE),
        },
    ),
    "diagnosis": (
        Diagnosis,
        {
            "osteoporosis_t": _number(*_T),
            "normal_t": _number(*_T),
            "z_threshold": _number(*_T),
        },
    ),
    "sites": (Sites, {"spine_min_vertebrae": _integer(1, 4)}),
    "risk": (
        Risk,
        {
            "glucocorticoid_mg_day": _number(0, 1000),
            "glucocorticoid_months": _number(0, 1200),
            "parent_fracture_age": _number(*_AGE),
            "height_loss_cm": _number(0, 100),
            "bmi": _number(0, 100),
            "alcohol_units_day": _number(0, 100),
            "age_plus": _number(*_AGE),
        },
    ),
    "treatment": (
        Treatment,
        {
            "fragility_fracture": _level(),
            "osteoporosis": _level(),
            "vertebral_fracture": _level(),
            "vertebral_fracture_categories": _categories(),
            "vertebral_fracture_t_limit": _number_or_none(*_T),
            "frax_high": _level(),
            "frax_hip_pct": _number(0, 100),
            "frax_major_pct": _number(0, 100),
            "risk_features": _level(),
            "first_line_therapy": _text(),
        },
    ),
    "monitoring": (
        Monitoring,
        {
            "treated_months": _integer(1, 1200, allow_none=True),
            "untreated_osteopenia_months": _integer(1, 1200, allow_none=True),
            "normal_months": _integer(1, 1200, allow_none=True),
        },
    ),
}

#: Every parameter key a ruleset must define, as `section.key`, in file order.
PARAMETER_KEYS: tuple[str, ...] = tuple(
    f"{section}.{key}" for section, (_, keys) in _SECTIONS.items() for key in keys
)


def _validate(data: dict[str, Any], shown: str, expected_id: str | None) -> dict[str, Any]:
    """Check every key against the schema; return the converted values by section."""

    def fail(key: str, message: str) -> RulesetError:
        return RulesetError(f"{shown}: {key}: {message}")

    known = set(_TOP) | set(_SECTIONS)
    for key in data:
        if key not in known:
            raise fail(key, "unknown key")
    out: dict[str, Any] = {}
    for key, (check, message) in _TOP.items():
        if key not in data:
            raise fail(key, "missing key")
        ok, value = check(data[key])
        if not ok:
            raise fail(key, message)
        out[key] = value
    if expected_id is not None and out["id"] != expected_id:
        raise fail("id", f"must be {expected_id!r}, the file's name")
    for section, (cls, keys) in _SECTIONS.items():
        table = data.get(section)
        if table is None:
            raise fail(section, "missing section")
        if not isinstance(table, dict):
            raise fail(section, "must be a table")
        for key in table:
            if key not in keys:
                raise fail(f"{section}.{key}", "unknown key")
        values = {}
        for key, (check, message) in keys.items():
            if key not in table:
                raise fail(f"{section}.{key}", "missing key")
            ok, value = check(table[key])
            if not ok:
                raise fail(f"{section}.{key}", message)
            values[key] = value
        out[section] = cls(**values)
    diagnosis: Diagnosis = out["diagnosis"]
    if not diagnosis.osteoporosis_t < diagnosis.normal_t:
        raise fail("diagnosis.normal_t", "must be greater than diagnosis.osteoporosis_t")
    return out


def _packaged_dir() -> Path:
    """The directory of the `rulesets` package, where ruleset IDs resolve."""
    return Path(str(resources.files("rulesets")))


def _load_file(path: Path, shown: str, expected_id: str | None) -> Ruleset:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise RulesetError(f"{shown}: no such ruleset file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError(f"{shown}: not valid TOML: {exc}") from exc
    values = _validate(data, shown, expected_id)
    return Ruleset(path=shown, **values)


def load_ruleset(id_or_path: str | Path) -> Ruleset:
    """Load and validate a ruleset by ID (a file in `rulesets/`) or by path to any TOML file.

    A string without a path separator and without `.toml` is an ID.
    """
    text = str(id_or_path)
    if isinstance(id_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        return _load_file(Path(text), text, None)
    path = _packaged_dir() / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(r.id for r in available_rulesets()) or "none"
        raise RulesetError(f"rulesets/{text}.toml: unknown ruleset {text!r} (available: {known})")
    return _load_file(path, f"rulesets/{text}.toml", text)


def available_rulesets() -> list[Ruleset]:
    """Every ruleset shipped in `rulesets/`, sorted by ID (for `dxa rulesets`)."""
    return [
        _load_file(p, f"rulesets/{p.name}", p.stem)
        for p in sorted(_packaged_dir().glob("*.toml"))
    ]


DEFAULT_RULESET = "core-2025"
