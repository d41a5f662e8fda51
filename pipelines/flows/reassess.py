"""`dxa reassess` and `dxa rulesets forget` as Prefect flows, with the run records of `dxa run`.

Each is one stage (a task): open the registry, record the run (`runs`), do the work in one
transaction, close the run with its counts, publish the reporting copy and a markdown
artifact holding counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from pipelines.flows.nightly import new_run_id
from pipelines.ingest.reassess import (
    DEFAULT_BATCH_SIZE,
    ReassessCounts,
    copy_registry,
    reassess_registry,
)
from pipelines.ingest.settings import resolve_settings
from pipelines.registry.interface import RegistryWriter
from pipelines.registry.opening import open_registry
from pipelines.registry.outcome import RunSummary
from pipelines.runtime.messages import safe_reason
from schemas.vocabulary import RunStatus


def _recorded(db: str, label: str, lock_timeout_s: float,
              work: Callable[[RegistryWriter, str], tuple[int, str]]) -> RunSummary:
    """Run `work(writer, run_id)` -> (exams read, message) inside a recorded run."""
    summary = RunSummary(run_id=new_run_id(), ruleset=label, db_path=db)
    with open_registry(db).writer(lock_timeout_s) as writer:
        writer.mark_interrupted()
        writer.begin_run(summary.run_id, label)
        try:
            rows_read, summary.message = work(writer, summary.run_id)
            summary.status = RunStatus.COMPLETED
            writer.finish_run(summary)
            writer.set_rows_read(summary.run_id, rows_read)
            summary.reporting_copy = str(writer.publish_reporting_copy())
        except Exception as exc:
            summary.status = RunStatus.FAILED
            summary.message = safe_reason(exc)
            writer.finish_run(summary)
            raise
    return summary


def reassess_message(counts: ReassessCounts, latest_only: bool) -> str:
    scope = "latest exams" if latest_only else "exams"
    return (f"reassess: {counts.assessments_added} {scope} assessed in {counts.batches}"
            f" batches, {counts.flags_added} flags; {counts.already_assessed} already"
            " assessed under this ruleset, left as they were")


@task(name="reassess-registry", cache_policy=NONE)
def reassess_stage(db: str, ruleset_ref: str, latest_only: bool, batch_size: int,
                   lock_timeout_s: float) -> RunSummary:
    settings = resolve_settings(ruleset_ref, lock_timeout_s=lock_timeout_s)

    def work(writer: RegistryWriter, run_id: str) -> tuple[int, str]:
        counts = reassess_registry(writer, run_id, settings.ruleset, settings.decide,
                                   latest_only=latest_only, batch_size=batch_size)
        return counts.exams_read, reassess_message(counts, latest_only)

    return _recorded(db, settings.ruleset_label, lock_timeout_s, work)


@task(name="forget-ruleset", cache_policy=NONE)
def forget_stage(db: str, label: str, lock_timeout_s: float) -> RunSummary:
    def work(writer: RegistryWriter, run_id: str) -> tuple[int, str]:
        assessments, flags = writer.forget_ruleset(label)
        return 0, f"forget: {assessments} assessments and {flags} flags removed"

    return _recorded(db, label, lock_timeout_s, work)


def _artifact(summary: RunSummary, what: str) -> None:
    create_markdown_artifact(
        markdown=f"# DXA registry {what}\n\n- run: `{summary.run_id}`\n"
                 f"- ruleset: `{summary.ruleset}`\n- status: {summary.status}\n"
                 f"- {summary.message}\n",
        key=f"dxa-{what}", description="counts only, no patient identifiers",
    )


@flow(name="dxa-reassess", log_prints=False)
def reassess_flow(db: str, ruleset: str, latest_only: bool = False,
                  into: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                  lock_timeout_s: float = 30.0) -> RunSummary:
    """Judge the registry's exams under a ruleset (into a copy with `into`)."""
    resolve_settings(ruleset, lock_timeout_s=lock_timeout_s)  # a bad file: nothing copied
    target = db
    if into is not None:
        copy_registry(open_registry(db), Path(into), lock_timeout_s)
        target = into
    summary = reassess_stage(target, ruleset, latest_only, batch_size, lock_timeout_s)
    _artifact(summary, "reassess")
    return summary


@flow(name="dxa-forget-ruleset", log_prints=False)
def forget_flow(db: str, label: str, lock_timeout_s: float = 30.0) -> RunSummary:
    """Remove one ruleset's assessments and flags from the registry (never exams)."""
    summary = forget_stage(db, label, lock_timeout_s)
    _artifact(summary, "forget")
    return summary


