"""`dxa prevalence`'s options as a checked request: every option refused before the
registry is opened, in one line that names the option and what it accepts."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.readers.prevalence import BY, PER, SITES, PrevalenceError, PrevalenceRequest
from pipelines.registry.opening import registry_present
from transforms.rules.ruleset import RulesetError, load_ruleset
from transforms.standardise import load_standards
from transforms.survey import CI_METHODS

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")
_PERIOD_FORMS = "YYYY (2025), YYYYQn (2025Q3) or FIRST:LAST (2025-01-01:2025-12-31)"


@dataclass(frozen=True)
class PrevalenceOptions:
    """The options as typed on the command line (text lists, names of choices)."""

    db: Path
    min_age: float = 50.0
    sites: str = "femoral_neck,spine"
    by: str = ""
    standard: str = "us2000"
    weights: str = "survey"
    ruleset: str = "core-2025"
    ci: str = CI_METHODS[0]
    per: str = PER[0]
    period: str | None = None


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """`2025`, `2025Q3` or `2025-01-01:2025-12-31` as (first day, last day), both counted.

    Raises ValueError with a message that says which forms are accepted.
    """
    text = text.strip()
    if year := _YEAR.match(text):
        first = dt.date(int(year[1]), 1, 1)
        return first, dt.date(first.year, 12, 31)
    if quarter := _QUARTER.match(text):
        year, last_month = int(quarter[1]), 3 * int(quarter[2])
        last_day = calendar.monthrange(year, last_month)[1]
        return dt.date(year, last_month - 2, 1), dt.date(year, last_month, last_day)
    start, colon, end = text.partition(":")
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise ValueError(f"--period must be {_PERIOD_FORMS}") from None
    if not colon or first > last:
        raise ValueError(f"--period must be {_PERIOD_FORMS}, the first day not after "
                         "the last")
    return first, last


def _names(text: str, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise PrevalenceError(f"{option}: unknown {', '.join(unknown)} "
                              f"(allowed: {', '.join(allowed)})")
    return names


def _check_choices(options: PrevalenceOptions) -> None:
    if options.weights not in ("survey", "none"):
        raise PrevalenceError(f"--weights must be survey or none, not {options.weights!r}")
    standards = load_standards()
    if options.standard != "none" and options.standard not in standards:
        raise PrevalenceError(f"--standard must be one of {', '.join(sorted(standards))} or "
                              f"none, not {options.standard!r}")
    if options.ci not in CI_METHODS:
        raise PrevalenceError(f"--ci must be {' or '.join(CI_METHODS)}, not {options.ci!r}")
    if not 0 <= options.min_age <= 120:
        raise PrevalenceError("--min-age must be between 0 and 120")
    if options.per not in PER:
        raise PrevalenceError(f"--per must be {' or '.join(PER)}, not {options.per!r}")


def build_request(options: PrevalenceOptions) -> PrevalenceRequest:
    """Check every option before the registry is opened (PrevalenceError: one line)."""
    if not registry_present(options.db):
        raise PrevalenceError(f"no registry at {options.db}")
    sites = _names(options.sites, SITES, "--sites")
    if not sites:
        raise PrevalenceError("--sites: name at least one site")
    groups = _names(options.by, BY, "--by")
    _check_choices(options)
    try:
        period = parse_period(options.period) if options.period is not None else None
        diagnosis = load_ruleset(options.ruleset).diagnosis
    except (ValueError, RulesetError) as exc:
        raise PrevalenceError(str(exc)) from None
    return PrevalenceRequest(
        db=options.db, min_age=options.min_age, sites=sites, by=groups,
        standard=options.standard, weights=options.weights,
        osteoporosis_t=diagnosis.osteoporosis_t, normal_t=diagnosis.normal_t,
        ci=options.ci, per=options.per, period=period,
    )
