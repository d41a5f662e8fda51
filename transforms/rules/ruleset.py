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

from schemas.errors import ConfigError

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


class RulesetError(ConfigError, ValueError):
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


def _positive_number(high: float) -> tuple[Check, str]:
    """A number in (0, high]: a zero threshold would fire on every recorded value."""

    def check(v: Any) -> tuple[bool, Any]:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= high
        return ok, float(v) if ok else None

    return check, f"must be a number greater than 0 and at most {high:g}"


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
            "frax_hip_pct": _positive_number(100),
            "frax_major_pct": _positive_number(100),
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
    problem = _cross_field_problem(out["basis"], out["diagnosis"], out["treatment"])
    if problem is not None:
        raise fail(*problem)
    return out


def _cross_field_problem(
    basis: Basis, diagnosis: Diagnosis, treatment: Treatment
) -> tuple[str, str] | None:
    """The first combination of values that contradicts itself, as (key, message).

    Each key is valid alone; these are the pairs where one value makes another silently
    meaningless (a rule that can never fire, or a threshold that changes nothing), which
    is almost always a typo. The message names every key involved.
    """
    if not diagnosis.osteoporosis_t < diagnosis.normal_t:
        return "diagnosis.normal_t", "must be greater than diagnosis.osteoporosis_t"
    for key in ("men_who_age", "menopause_assumed_age"):
        # Below adult age everyone is BASIS-PEDIATRIC, so a lower age here would never apply.
        if getattr(basis, key) < basis.adult_age:
            return f"basis.{key}", f"must be at least basis.adult_age ({basis.adult_age:g})"
    return _vertebral_limit_problem(diagnosis, treatment)


def _vertebral_limit_problem(
    diagnosis: Diagnosis, treatment: Treatment
) -> tuple[str, str] | None:
    """TX-VERTEBRAL-FX's T limit must cut inside the T range of its WHO categories.

    At or below that range the line can never fire; at or above its top the limit changes
    nothing (that is what "none" is for). For core-2025's osteopenia-only line this means
    strictly between diagnosis.osteoporosis_t and diagnosis.normal_t.
    """
    limit = treatment.vertebral_fracture_t_limit
    if limit is None:
        return None
    cats = treatment.vertebral_fracture_categories
    op, normal = diagnosis.osteoporosis_t, diagnosis.normal_t
    key = "treatment.vertebral_fracture_t_limit"
    listed = "treatment.vertebral_fracture_categories = [" + ", ".join(cats) + "]"
    # Lowest category first: osteoporosis has no floor, osteopenia T > op, normal T >= n.
    if "osteoporosis" not in cats:
        if "osteopenia" in cats and limit <= op:
            return key, (f"must be greater than diagnosis.osteoporosis_t ({op:g}) with "
                         f"{listed}, or TX-VERTEBRAL-FX can never fire")
        if "osteopenia" not in cats and limit < normal:
            return key, (f"must be at least diagnosis.normal_t ({normal:g}) with {listed}, "
                         "or TX-VERTEBRAL-FX can never fire")
    # Highest category: normal has no ceiling, osteopenia T < n, osteoporosis T <= op.
    if "normal" not in cats:
        top, top_key = (normal, "diagnosis.normal_t") if "osteopenia" in cats else (
            op, "diagnosis.osteoporosis_t")
        if limit >= top:
            return key, (f'must be less than {top_key} ({top:g}) with {listed}, or use "none" '
                         "(this limit changes nothing)")
    return None


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


def _is_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.endswith(".toml")


def load_ruleset(id_or_path: str | Path) -> Ruleset:
    """Load and validate a ruleset by ID (a file in `rulesets/`) or by path to any TOML file.

    A Path, or a string with a path separator or ending in `.toml`, is a path. Any other
    string is an ID when `rulesets/` has it (so `core-2025` means the shipped default
    whatever the current directory holds), else a path when such a file exists (e.g.
    `--ruleset myrules` for a file `./myrules`), else an unknown ID.
    """
    text = str(id_or_path)
    if isinstance(id_or_path, Path) or _is_path(text):
        return _load_file(Path(text), text, None)
    path = _packaged_dir() / f"{text}.toml"
    if path.is_file():
        return _load_file(path, f"rulesets/{text}.toml", text)
    if Path(text).is_file():
        return _load_file(Path(text), text, None)
    known = ", ".join(r.id for r in available_rulesets() if isinstance(r, Ruleset)) or "none"
    raise RulesetError(f"rulesets/{text}.toml: unknown ruleset {text!r} (available: {known})")


@dataclass(frozen=True)
class RulesetProblem:
    """A ruleset file in the listing that does not load; `error` names the file and key.

    It has `label` and `title` like a Ruleset so that a listing shows the bad file in
    place instead of failing as a whole.
    """

    id: str
    path: str
    error: str

    @property
    def label(self) -> str:
        """`ID@invalid`: never a label a decision could carry."""
        return f"{self.id}@invalid"

    @property
    def title(self) -> str:
        """The error, prefixed so that it stands out in a listing."""
        return f"INVALID: {self.error}"


def available_rulesets(directory: Path | None = None) -> list[Ruleset | RulesetProblem]:
    """Every ruleset file in `directory` (default: the shipped `rulesets/`), sorted by name.

    One bad file must not hide the good ones (or stop `dxa rulesets`), so a file that
    fails to load is listed as a RulesetProblem carrying its error, in its place.
    """
    base = _packaged_dir() if directory is None else Path(directory)
    listing: list[Ruleset | RulesetProblem] = []
    for path in sorted(base.glob("*.toml")):
        shown = f"rulesets/{path.name}" if directory is None else str(path)
        try:
            listing.append(_load_file(path, shown, path.stem))
        except RulesetError as exc:
            listing.append(RulesetProblem(id=path.stem, path=shown, error=str(exc)))
    return listing


DEFAULT_RULESET = "core-2025"
