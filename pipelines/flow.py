"""The nightly registry flow: discover -> prepare each input -> load -> publish summary.

Prefect tasks are per input (prepare) or per stage (load, summary), never per row. Only
I/O errors are retried. The flow composes stages; the work lives in plain functions
(`pipelines.prepare`, `pipelines.load`, `transforms.*`) that tests call directly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from pipelines import progress
from pipelines.ledger import begin_run, finish_run, loaded_fingerprints, record_failure
from pipelines.load import assess_loaded_input, load_input
from pipelines.messages import safe_reason
from pipelines.outcome import RunSummary
from pipelines.prepare import PreparedInput, failed_input, prepare_input
from pipelines.publish import publish_reporting_copy
from pipelines.report import collect_report
from pipelines.reporting.publish_html import html_link, publish_html_page
from pipelines.reporting.render_text import to_markdown as report_markdown
from pipelines.rules_table import record_rules
from pipelines.runners import task_runner_for
from pipelines.settings import RunSettings, resolve_settings
from pipelines.store import registry
from pipelines.summary import collect_run_counts, to_markdown
from schemas.vocabulary import RunStatus
from sources.base import ReadOptions
from sources.detect import Input, discover
from transforms.errors import FileProblem


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
def prepare_task(item: Input, options: ReadOptions) -> PreparedInput:
    prepared = prepare_input(item, options)
    progress.report("prepared", item.path.name)
    return prepared


@task(name="check-registry", cache_policy=NONE, retries=2, retry_delay_seconds=1,
      retry_condition_fn=_retry_on_io)
def check_registry(db: str, lock_timeout_s: float) -> None:
    """Fail fast when the registry cannot be opened for writing (locked, unreadable).

    Creates or migrates the registry; writes no run row: a run that cannot load leaves
    nothing behind (the load stage opens the registry again and records the run there).
    """
    with registry(db, lock_timeout_s=lock_timeout_s):
        pass


@task(name="load-registry", cache_policy=NONE)
def load_stage(
    db: str, summary: RunSummary, settings: RunSettings, prepared: list[PreparedInput]
) -> RunSummary:
    """Record the run, load each input in its own transaction, publish the reporting copy.

    One connection for the whole stage: if the registry is locked, the stage waits, then
    fails having written nothing. One failing input never blocks the rest; a run that
    breaks off is recorded as failed with a reason that holds no data values.
    """
    with registry(db, lock_timeout_s=settings.lock_timeout_s) as con:
        begin_run(con, summary.run_id, summary.ruleset)
        try:
            record_rules(con, settings.ruleset)
            _load_all(con, summary, prepared, settings.decide, settings.precision)
            summary.status = RunStatus.COMPLETED
            collect_run_counts(con, summary)
            summary.report = collect_report(con, dt.date.today())
            finish_run(con, summary)
            summary.reporting_copy = str(publish_reporting_copy(db, con))
            summary.html_report = publish_html_page(db, con, get_run_logger())
        except Exception as exc:
            summary.status = RunStatus.FAILED
            summary.message = safe_reason(exc)
            finish_run(con, summary)
            raise
    return summary


def _load_all(con, summary: RunSummary, prepared: list[PreparedInput], decide,  # noqa: ANN001
              precision) -> None:  # noqa: ANN001 - DuckDB connection, Decider, PrecisionTable
    loaded = loaded_fingerprints(con)
    for item in prepared:
        if item.error is not None:
            outcome = record_failure(con, summary.run_id, summary.ruleset, item)
        elif item.sha256 in loaded:
            outcome = assess_loaded_input(con, summary.run_id, summary.ruleset, item, decide)
        else:
            try:
                outcome = load_input(con, summary.run_id, summary.ruleset, item, decide,
                                     precision)
                loaded.add(item.sha256)
            except FileProblem as exc:  # found in a later batch: the file rolled back
                item.error = str(exc)
                outcome = record_failure(con, summary.run_id, summary.ruleset, item)
        summary.files.append(outcome)
        progress.report("loaded", item.path.name)


@task(name="publish-summary", cache_policy=NONE)
def publish_summary(summary: RunSummary) -> None:
    create_markdown_artifact(
        markdown=to_markdown(summary) + "\n" + report_markdown(summary.report)
        + html_link(summary.html_report),
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
) -> RunSummary:
    """Ingest DXA exports into the registry: validate, classify, decide, load, summarise."""
    logger = get_run_logger()
    # a bad ruleset or precision file fails here, before anything is written
    settings = resolve_settings(ruleset, precision, fmt, date_format, lock_timeout_s,
                                t_reference)
    summary = RunSummary(run_id=new_run_id(), ruleset=settings.ruleset_label, db_path=db)
    check_registry(db, settings.lock_timeout_s)
    inputs, ignored = discover_inputs(paths, settings.fmt)
    summary.ignored = ignored
    progress.report("discovered", f"{len(inputs)} inputs")
    # Per-file compute fans out on the flow's task runner (threads or Dask workers);
    # results come back here, where the single DuckDB writer loads them in order.
    futures = [
        prepare_task.with_options(task_run_name=f"prepare-{i}").submit(item, settings.read)
        for i, item in enumerate(inputs, start=1)
    ]
    prepared = [_result_or_failure(f, item) for f, item in zip(futures, inputs, strict=True)]
    summary = load_stage(db, summary, settings, prepared)
    logger.info(
        "run %s: %d inputs, %d rows read, %d loaded, %d quarantined, %d duplicate",
        summary.run_id, len(summary.files), summary.total("rows_read"),
        summary.total("rows_loaded"), summary.total("rows_quarantined"),
        summary.total("rows_duplicate"),
    )
    publish_summary(summary)
    return summary
