"""The nightly registry flow: discover -> prepare each input -> load -> publish -> summary.

Prefect tasks are per input (prepare) or per stage (load, publish, summary), never per
row. Only
I/O errors are retried. The flow composes stages; the work lives in plain functions
(`pipelines.ingest.prepare`, `pipelines.ingest.load`, `transforms.*`) that tests call directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.exceptions import MissingContextError

from pipelines.flows.outcome_state import FlowOutcome, final_state
from pipelines.flows.publish import publish_run
from pipelines.flows.runners import task_runner_for
from pipelines.ingest.load import assess_loaded_input, load_input, record_failure
from pipelines.ingest.prepare import PreparedInput, failed_input, prepare_input
from pipelines.ingest.settings import RunSettings, resolve_settings
from pipelines.readers.reporting.publish_html import html_link
from pipelines.readers.reporting.render_text import to_markdown as report_markdown
from pipelines.readers.summary import to_markdown
from pipelines.registry.interface import RegistryWriter
from pipelines.registry.opening import open_registry
from pipelines.registry.outcome import RunSummary
from pipelines.runtime import progress
from pipelines.runtime.messages import safe_reason
from pipelines.runtime.privacy import private_files
from pipelines.runtime.timing import StageTimer
from schemas.errors import FileProblem
from schemas.vocabulary import RunStatus
from sources.base import ReadOptions
from sources.detect import Input, discover
from transforms.tscore import TScorePolicy

T = TypeVar("T")


def _retry_on_io(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's callback shape
    """Retry a task only when it failed on I/O (network share, file being copied)."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


@task(name="discover-inputs", cache_policy=NONE)
def discover_inputs(paths: list[str], fmt: str) -> tuple[list[Input], list[str]]:
    inputs, ignored = discover([Path(p) for p in paths], fmt)
    return inputs, [str(p) for p in ignored]


@task(
    name="prepare-input",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=_retry_on_io,
)
def prepare_task(item: Input, options: ReadOptions, tscores: TScorePolicy) -> PreparedInput:
    prepared = prepare_input(item, options, tscores)
    progress.report("prepared", item.path.name)
    return prepared


@task(name="check-registry", cache_policy=NONE, retries=2, retry_delay_seconds=1,
      retry_condition_fn=_retry_on_io)
def check_registry(db: str, lock_timeout_s: float) -> None:
    """Fail fast when the registry cannot be opened for writing (locked, not a registry).

    Creates or migrates the registry; writes no run row: a run that cannot load leaves
    nothing behind (the load stage opens the registry again and records the run there).
    """
    with open_registry(db).writer(lock_timeout_s):
        pass


def _stage_logger() -> logging.Logger | logging.LoggerAdapter:
    """The flow run's logger, or a plain one when the stages run without Prefect."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


@contextlib.contextmanager
def _recorded_failure(writer: RegistryWriter, summary: RunSummary,
                      timer: StageTimer) -> Iterator[None]:
    """A stage that breaks off closes the run's row as failed, with a reason that holds
    no data values, and re-raises."""
    try:
        yield
    except Exception as exc:
        summary.status = RunStatus.FAILED
        summary.message = safe_reason(exc)
        summary.stage_seconds = timer.seconds
        _record_failed_run(writer, summary)
        raise


@task(name="load-registry", cache_policy=NONE)
def load_stage(
    db: str, summary: RunSummary, settings: RunSettings, prepared: list[PreparedInput]
) -> RunSummary:
    """Record the run and load each input in its own transaction.

    One writer for the whole stage: if the registry is locked, the stage waits, then
    fails having written nothing. One failing input never blocks the rest; a run that
    breaks off is recorded as failed with a reason that holds no data values.
    """
    timer = StageTimer()
    for item in prepared:
        timer.merge(item.stage_seconds)
    with open_registry(db).writer(settings.lock_timeout_s) as writer:
        writer.mark_interrupted()
        # an edited file under a held id@version is refused here, before the run's row
        source = writer.check_ruleset(settings.ruleset)
        writer.begin_run(summary.run_id, summary.ruleset)
        with _recorded_failure(writer, summary, timer):
            writer.record_ruleset(source, settings.ruleset)
            _load_all(writer, summary, prepared, settings, timer)
            summary.status = RunStatus.COMPLETED
            summary.stage_seconds = timer.seconds
            writer.finish_run(summary)
    return summary


@task(name="publish-reporting-copy", cache_policy=NONE)
def publish_stage(db: str, summary: RunSummary, settings: RunSettings) -> RunSummary:
    """The run's counts and report, the reporting copy and the HTML page beside it.

    The report reads the run's own row, so it is collected once the row says it ended;
    the report and the page count patients by the latest exams worked out once.
    """
    timer = StageTimer()
    timer.merge(summary.stage_seconds)
    with (open_registry(db).writer(settings.lock_timeout_s) as writer,
          _recorded_failure(writer, summary, timer)):
        publish_run(writer, summary, timer, _stage_logger())
        summary.stage_seconds = timer.seconds
        writer.record_stage_seconds(summary)
    return summary


def _record_failed_run(writer: RegistryWriter, summary: RunSummary) -> None:
    """Close the run's row as failed. If even that write is refused (a full disk), the
    row keeps its last state (`running` rows are marked interrupted by the next run);
    the run's own error is what the caller raises and the CLI reports either way."""
    try:
        writer.finish_run(summary)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        logging.getLogger(__name__).warning("run %s: could not record its failure",
                                            summary.run_id, exc_info=True)


def _load_all(writer: RegistryWriter, summary: RunSummary, prepared: list[PreparedInput],
              settings: RunSettings, timer: StageTimer) -> None:
    loaded = writer.loaded_fingerprints()
    decide = settings.decide
    for item in prepared:
        if item.error is not None:
            outcome = record_failure(writer, summary.run_id, summary.ruleset, item)
        elif item.sha256 in loaded:
            outcome = assess_loaded_input(writer, summary.run_id, summary.ruleset, item,
                                          decide)
        else:
            try:
                outcome = load_input(writer, summary.run_id, summary.ruleset, item, decide,
                                     settings.precision, timer)
                loaded.add(item.sha256)
            except FileProblem as exc:  # found in a later batch: the file rolled back
                item.error = str(exc)
                outcome = record_failure(writer, summary.run_id, summary.ruleset, item)
        summary.files.append(outcome)
        progress.report("loaded", item.path.name)


def summary_markdown(summary: RunSummary) -> str:
    """The run's counts followed by the registry report: the artifact's text."""
    return (to_markdown(summary) + "\n" + report_markdown(summary.report)
            + html_link(summary.html_report))


@task(name="publish-summary", cache_policy=NONE)
def publish_summary(summary: RunSummary) -> None:
    create_markdown_artifact(
        markdown=summary_markdown(summary),
        key="dxa-run-summary",
        description=f"DXA registry run {summary.run_id}: counts only, no patient identifiers",
    )


def _result_or_failure(future, item: Input) -> PreparedInput:  # noqa: ANN001 - PrefectFuture
    """The prepared input, or, once its I/O retries are spent, the input as failed.

    A file that cannot be read (permissions, a share that went away) fails alone, like
    any other file-level problem; the run goes on with the others.
    """
    try:
        return future.result()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return failed_input(item, f"could not be read: {reason}")


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


class Stages(Protocol):
    """How the run's stages are called: as Prefect tasks (the flow), or plainly."""

    def prepare_all(self, inputs: list[Input], settings: RunSettings) -> list[PreparedInput]:
        ...

    def call(self, stage: Callable[..., T], *args: object) -> T: ...

    def publish(self, summary: RunSummary) -> None: ...


class PrefectStages:
    """Each stage a Prefect task; inputs prepared side by side on the flow's task runner."""

    def prepare_all(self, inputs: list[Input], settings: RunSettings) -> list[PreparedInput]:
        # Per-file compute fans out on the flow's task runner (threads or Dask workers);
        # results come back here, where the single DuckDB writer loads them in order.
        # The T-score reference travels with the settings: no task loads it again.
        futures = [
            prepare_task.with_options(task_run_name=f"prepare-{i}").submit(
                item, settings.read, settings.tscores)
            for i, item in enumerate(inputs, start=1)
        ]
        return [_result_or_failure(f, item) for f, item in zip(futures, inputs, strict=True)]

    def call(self, stage: Callable[..., T], *args: object) -> T:
        return stage(*args)

    def publish(self, summary: RunSummary) -> None:
        publish_summary(summary)


class PlainStages:
    """The same stages as plain function calls, one input after another (no Prefect).

    What the benchmark compares the flow with, so that Prefect's own cost is measured
    on the flow's own sequence of stages, not on a copy of it.
    """

    def prepare_all(self, inputs: list[Input], settings: RunSettings) -> list[PreparedInput]:
        return [prepare_task.fn(item, settings.read, settings.tscores) for item in inputs]

    def call(self, stage: Callable[..., T], *args: object) -> T:
        return stage.fn(*args)  # type: ignore[attr-defined] - a Prefect task's function

    def publish(self, summary: RunSummary) -> None:
        summary_markdown(summary)  # the artifact's text is built; there is no API to hold it


def run_stages(
    paths: list[str], db: str, settings: RunSettings, stages: Stages,
    log: logging.Logger | logging.LoggerAdapter,
) -> RunSummary:
    """The run, stage by stage: check the registry, discover, prepare, load, summarise."""
    summary = RunSummary(run_id=new_run_id(), ruleset=settings.ruleset_label, db_path=db)
    stages.call(check_registry, db, settings.lock_timeout_s)
    inputs, ignored = stages.call(discover_inputs, paths, settings.fmt)
    summary.ignored = ignored
    progress.report("discovered", f"{len(inputs)} inputs")
    prepared = stages.prepare_all(inputs, settings)
    summary = stages.call(load_stage, db, summary, settings, prepared)
    summary = stages.call(publish_stage, db, summary, settings)
    log.info(
        "run %s: %d inputs, %d rows read, %d loaded, %d quarantined, %d duplicate",
        summary.run_id, len(summary.files), summary.total("rows_read"),
        summary.total("rows_loaded"), summary.total("rows_quarantined"),
        summary.total("rows_duplicate"),
    )
    stages.publish(summary)
    return summary


@flow(name="dxa-registry-nightly", log_prints=False, task_runner=task_runner_for(None))
def registry_flow(
    paths: list[str],
    db: str,
    ruleset: str = "core-2025",
    fmt: str = "auto",
    lock_timeout_s: float = 30.0,
    date_format: str | None = None,
    precision: str | None = None,
    t_reference: str | None = None,
) -> FlowOutcome:
    """Ingest DXA exports into the registry: validate, classify, decide, load, summarise.

    Ends Failed, with the summary as its data, when an input failed or none was found
    (`pipelines.flows.outcome_state`)."""
    # a bad ruleset or precision file fails here, before anything is written
    settings = resolve_settings(ruleset, precision, fmt, date_format, lock_timeout_s,
                                t_reference)
    with private_files():  # staging, write-ahead logs, temporary files: 0600
        summary = run_stages(paths, db, settings, PrefectStages(), get_run_logger())
    return final_state(summary, paths)
