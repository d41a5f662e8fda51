"""The application facade: one function per thing a registry's users do.

Why one facade: the command line, the Prefect flows' callers and the tests all ask the
same questions (run these exports, re-judge under a ruleset, list who is overdue), and
each answer should live in one place. Every `dxa` command's behaviour is a call here; the
CLI (`pipelines.cli`) only parses options and prints. Nothing in this module holds SQL:
storage is reached through the registry interface (`pipelines.registry.interface`),
orchestration through the flows (`pipelines.flows`), answers through the readers
(`pipelines.readers`).

Heavy imports (Prefect, polars) happen inside the functions that need them, so that
`dxa --help` and the light commands start quickly.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.flows.execute import RunRequest, no_exports_message
from pipelines.flows.scheduling import DEFAULT_CRON, DEFAULT_TIMEZONE, WORK_POOL
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S, WRITE_LOCK_TIMEOUT_S
from pipelines.registry.outcome import RunSummary

__all__ = ["DEFAULT_CRON", "DEFAULT_TIMEZONE", "READ_LOCK_TIMEOUT_S", "WORK_POOL",
           "RunRequest", "no_exports_message"]

if TYPE_CHECKING:
    import polars as pl

    from pipelines.readers.compare import Comparison
    from pipelines.readers.measures.compute import MeasuresResult
    from pipelines.readers.patient import PatientHistory
    from pipelines.readers.precision_study import PrecisionStudy
    from pipelines.readers.prevalence import PrevalenceRequest, PrevalenceResult
    from pipelines.readers.prevalence_options import PrevalenceOptions
    from pipelines.readers.reporting.formats import ReportFormat
    from pipelines.readers.reporting.model import Report, Section
    from pipelines.runtime.progress import Reporter

#: Exit codes of `dxa run` (registry-contract.md section 2); Typer's usage errors are 2 too.
EXIT_COMPLETED = 0  # every input loaded or was skipped as already loaded
EXIT_FAILED = 1  # the run (or command) could not complete; nothing of it was written
EXIT_INPUTS_FAILED = 2  # the run completed, but inputs failed as a whole (or none found)


# -- writing: runs, re-assessments, ruleset lifecycle --------------------------------------

def run(request: RunRequest, on_progress: Reporter | None = None) -> RunSummary:
    """`dxa run`: ingest exports into the registry through the nightly flow; with
    `move_failed`, then move each input the run recorded as failed into that folder."""
    from pipelines.flows.execute import execute_run

    summary = execute_run(request, on_progress)
    if request.move_failed is not None:
        from pipelines.flows.move_failed import move_failed_inputs

        move_failed_inputs(summary, request.move_failed)
    return summary


def run_exit_code(summary: RunSummary) -> int:
    """0 when every input loaded or was skipped; 2 when one failed or none was found."""
    if not summary.files or summary.files_failed:
        return EXIT_INPUTS_FAILED
    return EXIT_COMPLETED


@dataclass(frozen=True)
class ReassessRequest:
    """`dxa reassess`: which registry, which ruleset, and how."""

    db: Path
    ruleset: str
    latest_only: bool = False
    into: Path | None = None
    batch_size: int = 200_000
    lock_timeout_s: float = WRITE_LOCK_TIMEOUT_S


def reassess(request: ReassessRequest, on_progress: Reporter | None = None) -> RunSummary:
    """Judge the registry's exams under a ruleset (into a copy with `into`), as a flow.

    `on_progress`: told how many of the pending exams are judged (a terminal's bar)."""
    _require_registry(request.db)
    from pipelines.runtime.env import configure_prefect_env

    configure_prefect_env()
    from pipelines.runtime.temporary_api import prefect_api

    with prefect_api() as api:  # Prefect's temporary server starts beside the imports
        from pipelines.flows.reassess import reassess_flow
        from pipelines.ingest.settings import resolve_settings
        from pipelines.runtime.logs import route_library_logging
        from pipelines.runtime.progress import reporting

        # a bad file fails in a second, before Prefect is used
        resolve_settings(request.ruleset, lock_timeout_s=request.lock_timeout_s)
        route_library_logging()
        with api.in_use(), reporting(on_progress):
            return reassess_flow(str(request.db), request.ruleset,
                                 latest_only=request.latest_only,
                                 into=str(request.into) if request.into else None,
                                 batch_size=request.batch_size,
                                 lock_timeout_s=request.lock_timeout_s)


def forget(db: Path, label: str) -> RunSummary:
    """`dxa rulesets forget`: remove a ruleset's assessments and flags (never exams)."""
    _require_registry(db)
    from pipelines.runtime.env import configure_prefect_env

    configure_prefect_env()
    from pipelines.runtime.temporary_api import prefect_api

    with prefect_api() as api:
        from pipelines.flows.reassess import forget_flow

        with api.in_use():
            return forget_flow(str(db), label)


def lake_data_path(folder: Path | str | None) -> AbstractContextManager[None]:
    """A DuckLake registry created meanwhile keeps its Parquet files under `folder`."""
    from pipelines.registry.lake_address import data_path_given

    return data_path_given(folder)


def registry_key(key_file: Path | None) -> AbstractContextManager[None]:
    """Registries opened meanwhile (by flows and readers alike) use the key held in
    `key_file`: read once, checked private, never passed on as a value or logged."""
    from pipelines.registry.keys import unlocked

    return unlocked(key_file)


def set_primary(db: Path, label: str) -> None:
    """`dxa rulesets primary`: the ruleset the registry's views and lists show."""
    _require_registry(db)
    from pipelines.registry.opening import open_registry

    with open_registry(db).writer() as writer:
        writer.set_primary(label)


def _require_registry(db: Path) -> None:
    from pipelines.registry.opening import require_registry

    require_registry(db)


# -- reading: rulesets, reports, lists, extracts, statistics -------------------------------

def held_rulesets(db: Path) -> pl.DataFrame:
    """`dxa rulesets --db`: the rulesets a registry holds, with their use."""
    from pipelines.readers.access import reading
    from pipelines.registry.rulesets import held_rulesets as held

    with reading(db) as con:
        return held(con)


def report(db: Path, as_of: str | None, lock_timeout_s: float | None = None) -> Report:
    """`dxa report` on the screen: the latest run and the registry at a glance."""
    from pipelines.readers.report import build_report

    return build_report(db, as_of, lock_timeout_s=lock_timeout_s)


def report_text(db: Path, as_of: str | None, fmt: ReportFormat,
                lock_timeout_s: float | None = None) -> str:
    """`dxa report --format ... [--output]`: the report as text, the HTML page included."""
    from pipelines.readers.report import report_text as text

    return text(db, as_of, fmt, lock_timeout_s=lock_timeout_s)


def export_worklist(kind: str, db: Path, output: Path, *, as_of: str | None = None,
                    ruleset: str | None = None,
                    lock_timeout_s: float = READ_LOCK_TIMEOUT_S) -> int:
    """`dxa export KIND`: a list with patient ids, for authorised staff; its row count."""
    from pipelines.readers.worklists import export_worklist as export

    return export(kind, db, output, as_of=as_of, ruleset=ruleset,
                  lock_timeout_s=lock_timeout_s)


def patient(db: Path, patient_id: str, *, ruleset: str | None = None,
            lock_timeout_s: float = READ_LOCK_TIMEOUT_S) -> PatientHistory:
    """`dxa patient ID`: one patient's exams, decisions and BMD trend (authorised staff)."""
    from pipelines.readers.patient import patient_history

    return patient_history(db, patient_id, ruleset=ruleset, lock_timeout_s=lock_timeout_s)


def patient_page(db: Path, patient_id: str, output: Path, *, ruleset: str | None = None,
                 lock_timeout_s: float = READ_LOCK_TIMEOUT_S) -> PatientHistory:
    """`dxa patient ID --format html --output FILE`: the page with a chart per site,
    written 0600 (it names a patient); the history it shows."""
    from pipelines.readers.patient import patient_history
    from pipelines.readers.patient_page import check_output, write_patient_page

    check_output(output)  # a missing folder is refused before the registry is read
    history = patient_history(db, patient_id, ruleset=ruleset, lock_timeout_s=lock_timeout_s)
    write_patient_page(history, output)
    return history


def export_research(db: Path, pseudonym_key: Path | None, output: Path, *,
                    as_of: str | None = None, ruleset: str | None = None,
                    lock_timeout_s: float = READ_LOCK_TIMEOUT_S) -> dict[str, int]:
    """`dxa export research`: the pseudonymised extract; rows per table."""
    from pipelines.readers.research import export_research as export

    return export(db, pseudonym_key, output, as_of=as_of, ruleset=ruleset,
                  lock_timeout_s=lock_timeout_s)


def compare(db: Path, ruleset_a: str, ruleset_b: str, as_of: str | None) -> Comparison:
    """`dxa compare`: how each patient's latest exam moves between two rulesets."""
    import datetime as dt

    from pipelines.readers.access import reading
    from pipelines.readers.compare import UnknownComparison, compare_rulesets

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise UnknownComparison(f"--as-of {as_of}: not a date (YYYY-MM-DD)") from None
    with reading(db) as con:
        return compare_rulesets(con, ruleset_a, ruleset_b, day)


def prevalence(options: PrevalenceOptions) -> tuple[PrevalenceRequest, PrevalenceResult]:
    """`dxa prevalence`: osteoporosis and low bone mass with 95 % CIs; the checked
    request beside the result (the output says what was counted)."""
    from pipelines.readers.prevalence import PrevalenceError
    from pipelines.readers.prevalence import prevalence as estimate
    from pipelines.readers.prevalence_options import build_request
    from transforms.reference_files import ReferenceFileError

    request = build_request(options)
    try:
        return request, estimate(request)
    except ReferenceFileError as exc:
        raise PrevalenceError(str(exc)) from None


@dataclass(frozen=True)
class PrecisionOutcome:
    """`dxa precision`: the study, and with `--output` what the written file holds and
    what it leaves to the default (one line per scanner and site, counts only)."""

    study: PrecisionStudy
    written: int | None = None
    notes: tuple[str, ...] = ()


def precision(db: Path, output: Path | None = None,
              lock_timeout_s: float | None = None) -> PrecisionOutcome:
    """`dxa precision`: the facility's own precision per scanner and site, from same-day
    repeat exams (ISCD); with `output`, the precision file `dxa run --precision` reads."""
    from pipelines.readers.precision_file import notes, write_precision_file
    from pipelines.readers.precision_study import precision_study

    study = precision_study(db, lock_timeout_s)
    if output is None:
        return PrecisionOutcome(study)
    return PrecisionOutcome(study, write_precision_file(study, output), tuple(notes(study)))


@dataclass(frozen=True)
class MeasuresQuery:
    """`dxa measures`' options as typed: registry, period, breakdown, report date."""

    db: Path
    period: str | None = None
    by: str | None = None
    as_of: str | None = None
    ruleset: str | None = None
    lock_timeout_s: float | None = None


def measures(asked: MeasuresQuery) -> MeasuresResult:
    """`dxa measures`: the quality measures of the period (default: the last complete
    quarter) overall and by one breakdown, and their overall trend over 8 quarters."""
    from pipelines.readers.measures.compute import build_request, compute

    request = build_request(asked.db, asked.period, asked.by, asked.as_of, asked.ruleset)
    return compute(request, asked.lock_timeout_s)


def measures_text(result: MeasuresResult, fmt: str) -> str:
    """The measures as `csv`, `json` or `html` (a page with a chart per measure); small
    cells (a denominator under 11) suppressed in each."""
    from pipelines.readers.measures import outputs

    if fmt == "html":
        from pipelines.readers.measures.page import render_page

        return render_page(result)
    return outputs.to_csv(result) if fmt == "csv" else outputs.to_json(result)


def measures_sections(result: MeasuresResult) -> tuple[Section, Section]:
    """The measures as the screen's two tables: the period's, then the trend."""
    from pipelines.readers.measures import outputs

    return outputs.period_section(result), outputs.trend_section(result)


def rules_catalog(markdown: bool, ruleset: str | None) -> str:
    """`dxa rules`: every rule's wording, source and each ruleset's values."""
    from transforms.rules.catalog import render_catalog
    from transforms.rules.ruleset import load_ruleset

    chosen = load_ruleset(ruleset) if ruleset else None
    return render_catalog("markdown" if markdown else "text", chosen)


def ruleset_diff(ruleset: str, other: str) -> str:
    """`dxa rules --ruleset PATH --diff ID`: how a ruleset file departs from another."""
    from pipelines.readers.ruleset_diff import render_diff

    return render_diff(ruleset, other)


# -- scheduling on a Prefect server --------------------------------------------------------

def serve(paths: list[Path], db: Path, *, cron: str, timezone: str, ruleset: str) -> None:
    """`dxa serve`: the nightly flow as deployment dxa-serve (needs a Prefect server)."""
    from pipelines.runtime.env import configure_prefect_env

    configure_prefect_env()
    from pipelines.flows.scheduling import checked_timezone, require_server, serve_nightly

    require_server()
    serve_nightly(paths, db, cron=cron, timezone=checked_timezone(timezone), ruleset=ruleset)


def work_pool(name: str) -> tuple[bool, str]:
    """`dxa work-pool`: create the process work pool; (created, the server's URL)."""
    from pipelines.runtime.env import configure_prefect_env

    configure_prefect_env()
    from pipelines.flows.scheduling import ensure_work_pool, require_server

    url = require_server()
    return ensure_work_pool(name), url
