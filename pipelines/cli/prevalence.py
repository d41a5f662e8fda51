"""The `dxa prevalence` command's option checks and output (the CLI stays one block)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipelines.readers.prevalence import (
    BY,
    PER,
    SITES,
    PrevalenceError,
    PrevalenceRequest,
    counting_line,
    describe,
    prevalence,
    render_csv,
    render_json,
    table_rows,
)
from transforms.reference_files import ReferenceFileError
from transforms.standardise import load_standards
from transforms.survey import CI_METHODS


def _names(text: str, allowed: tuple[str, ...], option: str,
           fail: Callable[[str], None]) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        fail(f"{option}: unknown {', '.join(unknown)} (allowed: {', '.join(allowed)})")
    return names


_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")
_PERIOD_FORMS = "YYYY (2025), YYYYQn (2025Q3) or FIRST:LAST (2025-01-01:2025-12-31)"


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


def _period(text: str | None, fail: Callable[[str], None]) -> tuple[dt.date, dt.date] | None:
    if text is None:
        return None
    try:
        return parse_period(text)
    except ValueError as exc:
        fail(str(exc))
        raise  # fail() exits; this keeps the type checker honest


def build_request(
    db: Path, min_age: float, sites: str, by: str, standard: str, weights: str,
    ruleset: str, fail: Callable[[str], None], ci: str = CI_METHODS[0],
    per: str = PER[0], period: str | None = None,
) -> PrevalenceRequest:
    """Check every option before the registry is opened; `fail` exits with a reason."""
    from pipelines.ingest.decide import resolve_ruleset
    from transforms.rules.ruleset import RulesetError

    if not db.exists():
        fail(f"no registry at {db}")
    chosen_sites = _names(sites, SITES, "--sites", fail)
    if not chosen_sites:
        fail("--sites: name at least one site")
    groups = _names(by, BY, "--by", fail)
    if weights not in ("survey", "none"):
        fail(f"--weights must be survey or none, not {weights!r}")
    if standard != "none" and standard not in load_standards():
        fail(f"--standard must be one of {', '.join(sorted(load_standards()))} or none, "
             f"not {standard!r}")
    if ci not in CI_METHODS:
        fail(f"--ci must be {' or '.join(CI_METHODS)}, not {ci!r}")
    if not 0 <= min_age <= 120:
        fail("--min-age must be between 0 and 120")
    if per not in PER:
        fail(f"--per must be {' or '.join(PER)}, not {per!r}")
    chosen_period = _period(period, fail)
    try:
        diagnosis = resolve_ruleset(ruleset).diagnosis
    except RulesetError as exc:
        fail(str(exc))
    return PrevalenceRequest(
        db=db, min_age=min_age, sites=chosen_sites, by=groups, standard=standard,
        weights=weights, osteoporosis_t=diagnosis.osteoporosis_t, normal_t=diagnosis.normal_t,
        ci=ci, per=per, period=chosen_period,
    )


def run_prevalence(
    db: Path, min_age: float, sites: str, by: str, standard: str, weights: str,
    ruleset: str, fmt: str, out: Console, fail: Callable[[str], None],
    ci: str = CI_METHODS[0], per: str = PER[0], period: str | None = None,
) -> None:
    if fmt not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, not {fmt!r}")
    request = build_request(db, min_age, sites, by, standard, weights, ruleset, fail, ci,
                            per, period)
    try:
        result = prevalence(request)
    except (PrevalenceError, ReferenceFileError) as exc:
        fail(str(exc))
        return
    if fmt == "json":
        print(render_json(result))
        return
    if fmt == "csv":
        print(render_csv(result, request.by), end="")
        return
    table = Table(title="Prevalence, percent (95 % CI)")
    for name in (*request.by, "n"):
        table.add_column(name, justify="right" if name == "n" else "left")
    table.add_column("osteoporosis", justify="right")
    table.add_column("low bone mass", justify="right")
    for row in table_rows(result, request.by):
        table.add_row(*row)
    out.print(table)
    out.print(describe(request), highlight=False)
    out.print(counting_line(result), highlight=False)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
