"""Plan one batch: overlap -> decide -> serial -> the rows to write. No storage calls.

Why apart from the writing: what a batch becomes (which exams load, which are duplicates
or conflicts, their decisions and change verdicts) is the pipeline's logic, and it is
tested here on frames alone. The loader (`pipelines.ingest.load`) reads what the plan
needs from the registry (the overlap, the patients' history), hands it over, and writes
the plan's frames through the registry interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.ingest.judge import Decider, judge
from pipelines.ingest.prepare import Batch, PreparedInput
from pipelines.registry.interface import BatchWrite
from pipelines.registry.reads import EXAM_COLUMNS, RegistryOverlap
from pipelines.runtime.timing import Stage, StageTimer
from schemas.errors import RegistryError
from schemas.reasons import quarantine_rows, reason_expr
from transforms.columns import ROW_NUMBER
from transforms.measurements import SERIAL_EXAM_COLUMNS, serial_input
from transforms.precision import PrecisionTable
from transforms.serial import compare_serial, with_other_exams
from transforms.treatment_course import treatment_course_flags, very_high_risk_exams
from transforms.tscore import t_score_sources

__all__ = ["AccountingError", "Admitted", "BatchPlan", "Decider", "admit", "plan_batch"]


class AccountingError(RegistryError, RuntimeError):
    """Rows of an input are not all accounted for, or an exam id would be held twice: a
    bug, never a data problem, so the input is not loaded."""


@dataclass
class Admitted:
    """A batch after the registry's overlap: the exams to load and what was turned away."""

    valid: pl.DataFrame
    quarantine: pl.DataFrame
    resent_identical: int


@dataclass
class BatchPlan:
    """What one batch writes, and the counts the file's accounting adds up."""

    rows: BatchWrite
    rows_loaded: int
    rows_quarantined: int
    assessments_added: int
    #: ids of registry exams judged again because this batch changed their history
    rejudged: pl.Series = field(default_factory=lambda: pl.Series("exam_id", [], pl.String))


def registry_conflicts(batch: Batch, conflicting: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows for exams whose id the registry holds with other content."""
    raw = batch.raw_of(conflicting.get_column(ROW_NUMBER))
    rows = conflicting.rename({ROW_NUMBER: "row_number"}).join(
        raw, on="row_number", how="left"
    ).sort("row_number")
    reasons = rows.select("row_number", reason_expr("REGISTRY_ID_CONFLICT", "exam_id")
                          .alias("reason")).unnest("reason")
    return quarantine_rows(reasons, rows)


def refuse_repeated_ids(valid: pl.DataFrame, prepared: PreparedInput) -> None:
    """Stop before writing if an exam id occurs twice among the exams about to load.

    `exams` has no key index (migration 006): duplicate verdicts and the registry overlap
    keep ids unique, and this check makes a slip in them (or a join that fans out) fail
    loudly instead of loading an exam twice. It looks at the frame actually written, so
    it costs one count of distinct ids (~0.1 s per million exams). (No id is shown: ids
    may identify a patient.)
    """
    if valid.select(pl.col("exam_id").n_unique()).item() == valid.height:  # the usual case
        return
    repeated = int(valid.get_column("exam_id").is_duplicated().sum())
    if repeated:
        raise AccountingError(
            f"{repeated} exams of {prepared.path} share an exam id after the duplicate"
            " checks; nothing was loaded from the file"
        )


def admit(batch: Batch, overlap: RegistryOverlap, prepared: PreparedInput) -> Admitted:
    """Leave out exams the registry holds: identical resends (duplicates) and conflicts
    (quarantined with REGISTRY_ID_CONFLICT)."""
    valid = batch.valid
    if overlap.identical.height or overlap.conflicting.height:
        valid = valid.join(overlap.identical, on="exam_id", how="anti").join(
            overlap.conflicting.select("exam_id"), on="exam_id", how="anti"
        )
    refuse_repeated_ids(valid, prepared)
    quarantine = pl.concat(
        [batch.quarantine, registry_conflicts(batch, overlap.conflicting)],
        how="vertical_relaxed",
    )
    return Admitted(valid, quarantine, overlap.identical.height)


def serial_frames(
    valid: pl.DataFrame, history: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(batch, history) one row per exam and site with a BMD, as `compare_serial` takes
    them; batch exams of patients with no other exam are left out (`with_other_exams`)."""
    batch = with_other_exams(valid.select(SERIAL_EXAM_COLUMNS), history)
    return serial_input(batch), serial_input(history)


def _exam_rows(valid: pl.DataFrame, prepared: PreparedInput, run_id: str) -> pl.DataFrame:
    """The `exams` rows: canonical columns plus where each exam came from."""
    return valid.select(
        *EXAM_COLUMNS,
        pl.lit(prepared.source_format).alias("source_format"),
        pl.lit(prepared.vendor, dtype=pl.String).alias("vendor"),
        pl.lit(prepared.sha256).alias("file_sha256"),
        pl.col(ROW_NUMBER).alias("source_row_number"),
        pl.lit(run_id).alias("run_id"),
    )


def _side_rows(valid: pl.DataFrame, prepared: PreparedInput, run_id: str
               ) -> dict[str, pl.DataFrame]:
    """Rows beside the exams: computed T-scores, and the adapter's side tables (survey
    design), for the loaded exams only."""
    stamp = {"file_sha256": pl.lit(prepared.sha256), "run_id": pl.lit(run_id)}
    loaded = valid.select("exam_id")
    side = {"t_score_sources": t_score_sources(valid).with_columns(**stamp)}
    for table, rows in prepared.side_tables.items():
        side[table] = rows.join(loaded, on="exam_id", how="semi").with_columns(**stamp)
    return side


def plan_batch(admitted: Admitted, history: pl.DataFrame, prepared: PreparedInput,
               decide: Decider, precision: PrecisionTable, run_id: str,
               timer: StageTimer) -> BatchPlan:
    """Decide the admitted exams beside the patients' history (the registry exams judged
    again with them), compare them with that history, raise the treatment-course flags
    (they read the comparison's changes and the decision's VERY_HIGH_RISK), and shape
    every table's rows. (`measurements` is a view over `exams`: nothing to write.)"""
    valid, run = admitted.valid, pl.lit(run_id)
    with timer.stage(Stage.DECIDE):
        judged = judge(valid, history, decide)
    assessments, flags = judged.assessments, judged.flags
    with timer.stage(Stage.SERIAL):
        serial = compare_serial(*serial_frames(valid, history), precision)
        course = treatment_course_flags(valid, history, serial.changes,
                                        very_high_risk_exams(flags))
    exams = _exam_rows(valid, prepared, run_id)
    frames = {
        "exams": exams,
        "assessments": assessments.with_columns(run_id=run),
        "flags": pl.concat([flags, serial.flags, course], how="diagonal_relaxed")
                 .with_columns(run_id=run),
        "bmd_changes": serial.changes.with_columns(run_id=run),
        **_side_rows(valid, prepared, run_id),
        "quarantine": admitted.quarantine.with_columns(
            run_id=run, file_sha256=pl.lit(prepared.sha256),
            source_format=pl.lit(prepared.source_format), path=pl.lit(str(prepared.path))),
    }
    return BatchPlan(BatchWrite(frames, serial.rejudged, judged.rejudged), exams.height,
                     admitted.quarantine.height, judged.new, judged.rejudged.get_column("exam_id"))
