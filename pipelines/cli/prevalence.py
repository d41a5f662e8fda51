"""The `dxa prevalence` command's option checks and output (the CLI stays one block)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipelines.readers.prevalence import (
    BY,
    SITES,
    PrevalenceError,
    PrevalenceRequest,
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


def build_request(
    db: Path, min_age: float, sites: str, by: str, standard: str, weights: str,
    ruleset: str, fail: Callable[[str], None], ci: str = CI_METHODS[0],
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
    try:
        diagnosis = resolve_ruleset(ruleset).diagnosis
    except RulesetError as exc:
        fail(str(exc))
    return PrevalenceRequest(
        db=db, min_age=min_age, sites=chosen_sites, by=groups, standard=standard,
        weights=weights, osteoporosis_t=diagnosis.osteoporosis_t, normal_t=diagnosis.normal_t,
        ci=ci,
    )


def run_prevalence(
    db: Path, min_age: float, sites: str, by: str, standard: str, weights: str,
    ruleset: str, fmt: str, out: Console, fail: Callable[[str], None],
    ci: str = CI_METHODS[0],
) -> None:
    if fmt not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, not {fmt!r}")
    request = build_request(db, min_age, sites, by, standard, weights, ruleset, fail, ci)
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
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
