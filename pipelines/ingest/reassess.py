"""Judge the exams already in the registry under a ruleset, without the original files.

Why: a registry changes rulesets when guidelines change, and an analyst asks "what if"
(`--into` a scratch copy). The exams are read back in batches of `batch_size` (a 10M-exam
registry never sits in memory whole), decided with the same decider as `dxa run`, and all
the batches commit in one transaction: all or nothing. Exams this ruleset already judged
are left as they are, so re-assessing is idempotent.

Serial verdicts (`bmd_changes`, loss flags) compare an exam with the patient's earlier
ones; they do not depend on the ruleset (only on `on_treatment`, an exam column), so
re-assessing leaves them alone. So are the treatment-course flags
(`transforms.treatment_course`): they hold under every ruleset (their VERY_HIGH_RISK input
is raised on the WHO basis under every ruleset), written once when the exam loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.ingest.judge import Decider, judge
from pipelines.registry.interface import Registry, RegistryWriter
from pipelines.registry.staging import REGISTRY
from pipelines.runtime import progress
from schemas.errors import RegistryError
from transforms.rules.ruleset import Ruleset

DEFAULT_BATCH_SIZE = 200_000


class ScratchExists(RegistryError):
    """`--into` names a file that exists already: it is never overwritten."""


@dataclass
class ReassessCounts:
    """What a re-assessment did (counts only: safe for screens and artifacts)."""

    exams_read: int = 0
    assessments_added: int = 0
    flags_added: int = 0
    already_assessed: int = 0
    batches: int = 0


def copy_registry(source: Registry, into: Path, lock_timeout_s: float) -> Registry:
    """Copy a registry for a what-if; the source is only read (never migrated)."""
    if into.exists():
        raise ScratchExists(f"--into {into} exists already; remove it or name another file")
    if not into.parent.is_dir():
        raise ScratchExists(f"--into {into}: the folder {into.parent} does not exist")
    if not source.exists():
        raise ScratchExists(f"no registry at {source.location}")
    return source.copy_to(into, lock_timeout_s)


def reassess_registry(writer: RegistryWriter, run_id: str, ruleset: Ruleset, decide: Decider,
                      *, latest_only: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
                      ) -> ReassessCounts:
    """Add `ruleset`'s assessments and flags for the exams it has not judged, atomically."""
    label = ruleset.label
    source = writer.check_ruleset(ruleset)  # refused before anything is written
    counts = ReassessCounts()
    with writer.transaction():
        writer.record_ruleset(source, ruleset)
        total, counts.already_assessed = writer.number_pending(label, latest_only)
        _report_judged(label, 0, total)
        run = pl.lit(run_id)
        for first in range(1, total + 1, batch_size):
            exams = writer.pending_batch(first, first + batch_size - 1)
            # the patients' other exams are their history (clinical-rules section 7a)
            judged = judge(exams, writer.history(exams, REGISTRY), decide, rejudge=False)
            assessments, flags = judged.assessments, judged.flags
            writer.append("assessments", assessments.with_columns(run_id=run))
            writer.append("flags", flags.with_columns(run_id=run))
            counts.exams_read += exams.height
            counts.assessments_added += assessments.height
            counts.flags_added += flags.height
            counts.batches += 1
            _report_judged(label, counts.exams_read, total)
        writer.drop_pending()
    return counts


def _report_judged(label: str, judged: int, total: int) -> None:
    """How many of the pending exams are judged (a bar on a terminal; counts only)."""
    progress.report("reassess", f"{label}: exams judged", completed=judged, total=total,
                    unit=progress.Unit.EXAMS, subject=label)
