"""Rulesets: every clinical threshold and switch, loaded from a versioned TOML file.

A ruleset is data, not a code fork: the decision code reads only the values held here, so
a new guideline variant is a new file in `rulesets/` (or any path), never a code change.
Files are validated strictly on load (pydantic models: unknown keys forbidden, bounds on
every value, levels from a fixed vocabulary, a model validator for the combinations that
contradict themselves) so that a typo cannot silently fall back to a default: an unknown
key, a missing key, or a bad value is a `RulesetError` whose message names the file and
the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from schemas.errors import ConfigError
from transforms.config_errors import CrossFieldError, first_problem, read_config_toml
from transforms.rules.ruleset_fields import NONE, T_RANGE, TEXT, Section
from transforms.rules.ruleset_fields import none_is_off as _none_is_off
from transforms.rules.ruleset_fields import number as _number
from transforms.rules.ruleset_fields import positive as _positive
from transforms.rules.ruleset_fields import whole as _whole
from transforms.rules.ruleset_sections import Caroc, FraxAdjustment, VeryHighRisk
from transforms.rules.treatment_lines import LINE_IDS

_Section = Section
_TEXT = TEXT

#: Treatment levels, most to least urgent (the order properties are tested against).
TREATMENT_LEVELS: tuple[str, ...] = (
    "recommended",
    "consider",
    "needs_risk_assessment",
    "not_indicated",
)
WHO_CATEGORIES: tuple[str, ...] = ("osteoporosis", "osteopenia", "normal")

Level = Literal["recommended", "consider", "needs_risk_assessment", "not_indicated"]
#: The treatment of a patient already on therapy (TX-ON-TREATMENT), on the WHO basis.
ON_TREATMENT = "on_treatment"
#: The treatment of a patient on a planned pause after a bisphosphonate course
#: (TX-DRUG-HOLIDAY: treatment_drug = drug_holiday), on the WHO basis.
DRUG_HOLIDAY = "drug_holiday"
Category = Literal["osteoporosis", "osteopenia", "normal"]


class RulesetError(ConfigError, ValueError):
    """A ruleset file cannot be used; the message names the file and the offending key."""


def _distinct_in_who_order(value: tuple[str, ...]) -> tuple[str, ...]:
    """Categories in WHO order; a repeated category is refused (almost always a typo)."""
    if len(set(value)) != len(value):
        raise ValueError("repeated category")
    return tuple(c for c in WHO_CATEGORIES if c in value)


_T = T_RANGE
_AGE = (0.0, 130.0)


class Basis(_Section):
    """Ages that choose the classification basis (clinical-rules.md section 1)."""

    adult_age: _number(*_AGE)
    men_who_age: _number(*_AGE)
    menopause_assumed_age: _number(*_AGE)
    # MENO-UNKNOWN-LOW-BMD: a woman "aged 40-49" is from_age <= age < below_age, so that
    # an age with a fraction (49.5) still counts as 49.
    meno_unknown_low_bmd_from_age: _number(*_AGE)
    meno_unknown_low_bmd_below_age: _number(*_AGE)

    @model_validator(mode="after")
    def _age_band(self) -> Basis:
        if not self.meno_unknown_low_bmd_from_age < self.meno_unknown_low_bmd_below_age:
            raise CrossFieldError(
                "basis.meno_unknown_low_bmd_below_age",
                "must be greater than basis.meno_unknown_low_bmd_from_age "
                "(MENO-UNKNOWN-LOW-BMD could never fire)")
        return self


class Diagnosis(_Section):
    """WHO T-score cut-offs and the ISCD Z-score threshold (section 2)."""

    osteoporosis_t: _number(*_T)
    normal_t: _number(*_T)
    z_threshold: _number(*_T)


class Sites(_Section):
    """Diagnostic site validity (section 2)."""

    spine_min_vertebrae: _whole(1, 4)


class Risk(_Section):
    """High-risk feature thresholds (section 3)."""

    glucocorticoid_mg_day: _number(0, 1000)
    glucocorticoid_months: _number(0, 1200)
    parent_fracture_age: _number(*_AGE)
    height_loss_cm: _number(0, 100)
    bmi: _number(0, 100)
    alcohol_units_day: _number(0, 100)
    age_plus: _number(*_AGE)
    # GC-LONG-TERM (not a feature): the ACR 2022 long-term use that MON-GLUCOCORTICOID,
    # LIFESTYLE and GC-RISK-REVIEW read; GC-RISK-REVIEW from review age on the Z basis.
    long_term_glucocorticoid_mg_day: _positive(1000)
    long_term_glucocorticoid_months: _positive(1200)
    glucocorticoid_review_age: _number(*_AGE)


class Line(_Section):
    """One treatment line of a ruleset: a line the engine knows, and the level it sets."""

    id: Annotated[str, Field(
        strict=True, description="must be the ID of a treatment line (`dxa rules` lists them)")]
    level: Annotated[Level, Field(description="must be one of " + ", ".join(TREATMENT_LEVELS))]


class Treatment(_Section):
    """Treatment lines in evaluation order (sections 4-5) and the thresholds they read.

    A line left out of `lines` never fires; the order is the ruleset's: the first
    matching line sets the treatment, every matching indication adds its ID, a fallback
    fires only when no line above it matched.
    """

    lines: Annotated[tuple[Line, ...], Field(
        min_length=1,
        description='must be a non-empty list of lines: { id = "...", level = "..." }')]
    vertebral_fracture_categories: Annotated[
        tuple[Category, ...], AfterValidator(_distinct_in_who_order), Field(
            min_length=1,
            description="must be a non-empty list of distinct values from "
            + ", ".join(WHO_CATEGORIES))]
    #: None means "at any T-score".
    vertebral_fracture_t_limit: Annotated[
        Annotated[float, Field(strict=True, ge=_T[0], le=_T[1])] | None,
        BeforeValidator(_none_is_off),
        Field(description=f'must be a number between {_T[0]:g} and {_T[1]:g} or "{NONE}"')]
    frax_hip_pct: _positive(100)
    frax_major_pct: _positive(100)
    first_line_therapy: _TEXT
    #: TX-DRUG-HOLIDAY's repeat DXA (ASBMR 2016: re-evaluate after 2-3 years).
    drug_holiday_months: _whole(1, 1200, off=True)

    @model_validator(mode="after")
    def _known_lines(self) -> Treatment:
        seen: set[str] = set()
        for i, line in enumerate(self.lines):
            key = f"treatment.lines[{i}].id"
            if line.id not in LINE_IDS:
                raise CrossFieldError(
                    key, f"unknown line {line.id!r} (known: {', '.join(LINE_IDS)})")
            if line.id in seen:
                raise CrossFieldError(key, f"line {line.id!r} is listed twice")
            seen.add(line.id)
        return self

    def level_of(self, line_id: str) -> str | None:
        """The level the line sets in this ruleset, or None when the ruleset omits it."""
        return next((line.level for line in self.lines if line.id == line_id), None)


class Monitoring(_Section):
    """Repeat-DXA intervals in months (section 6); None means the line gives no date."""

    treated_months: _whole(1, 1200, off=True)
    untreated_months: _whole(1, 1200, off=True)
    glucocorticoid_months: _whole(1, 1200, off=True)
    z_fracture_months: _whole(1, 1200, off=True)
    normal_months: _whole(1, 1200, off=True)


class Vfa(_Section):
    """VFA-ISCD-2019 (section 6): on the WHO basis, a valid T below `t_score_below` and an
    age, height-loss (risk.height_loss_cm) or glucocorticoid criterion."""

    t_score_below: _number(*_T)
    women_age: _number(*_AGE)
    men_age: _number(*_AGE)
    glucocorticoid_mg_day: _positive(1000)
    glucocorticoid_months: _positive(1200)


class RulesetFile(_Section):
    """What a ruleset file holds, validated; the cross-field checks run once all keys pass."""

    id: Annotated[str, Field(
        strict=True, pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="must be lower-case letters, digits and dashes (e.g. core-2025)")]
    version: _whole(1, 1_000_000)
    title: _TEXT
    source: _TEXT
    basis: Basis
    diagnosis: Diagnosis
    sites: Sites
    risk: Risk
    treatment: Treatment
    monitoring: Monitoring
    vfa: Vfa
    frax_adjustment: FraxAdjustment
    very_high_risk: VeryHighRisk
    caroc: Caroc

    @model_validator(mode="after")
    def _consistent(self) -> RulesetFile:
        problem = _cross_field_problem(self.basis, self.diagnosis, self.treatment)
        if problem is not None:
            raise CrossFieldError(*problem)
        return self


class Ruleset(RulesetFile):
    """One validated ruleset. `label` (ID@VERSION) is written beside every decision."""

    #: The file it came from, as shown in messages (not a key of the file).
    path: str

    @property
    def label(self) -> str:
        """`ID@VERSION`, e.g. `core-2025@2`."""
        return f"{self.id}@{self.version}"

    def value(self, key: str) -> Any:
        """The value of a dotted parameter key such as `risk.bmi` (used by the catalog)."""
        section, _, name = key.partition(".")
        return getattr(getattr(self, section), name)


#: The tables of a ruleset file (a missing one is a "missing section").
SECTIONS: tuple[str, ...] = tuple(
    name for name, f in RulesetFile.model_fields.items()
    if isinstance(f.annotation, type) and issubclass(f.annotation, _Section)
)
#: Every parameter key a ruleset must define, as `section.key`, in file order.
PARAMETER_KEYS: tuple[str, ...] = tuple(
    f"{section}.{key}"
    for section in SECTIONS
    for key in RulesetFile.model_fields[section].annotation.model_fields
)


def _validate(data: dict[str, Any], shown: str, expected_id: str | None) -> RulesetFile:
    """The file's content as a RulesetFile, or a RulesetError naming the file and key."""
    problem = first_problem(RulesetFile, data, SECTIONS)
    if problem is not None:
        raise RulesetError(f"{shown}: {problem}")
    content = RulesetFile.model_validate(data)
    if expected_id is not None and content.id != expected_id:
        raise RulesetError(f"{shown}: id: must be {expected_id!r}, the file's name")
    return content


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
    data = read_config_toml(path, shown, "ruleset", RulesetError)
    content = _validate(data, shown, expected_id)
    return Ruleset.model_validate({**dict(content), "path": shown})


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
