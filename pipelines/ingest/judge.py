"""Judge exams beside their patients' other exams (clinical-rules.md section 7a).

Why here and not in the rules: the rules judge every exam of a frame with the frame's
other exams of the same patient as its history; which exams go into that frame, and
which decisions are written, is the loader's business:
- the batch's exams are judged with the registry's exams of the same patients beside
  them (`context`, read by `RegistryWriter.history`);
- a batch that brings an exam dated on or before a registry exam of the same patient
  (a back-fill, or a second exam of the same day) changes that exam's history, so the
  registry exam is judged again: its decision under this ruleset is replaced, as serial
  back-fills already replace change verdicts. Only exams this ruleset has judged before
  are replaced (`ASSESSED`), so a back-fill never adds a decision nobody asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from schemas.columns import CANONICAL_COLUMNS

#: decide(exams) -> (assessments, flags); injected so loading stays rule-agnostic.
Decider = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]
#: Column of the context: the run's ruleset has an assessment of this exam already.
ASSESSED = "_assessed"
_COLUMNS = list(CANONICAL_COLUMNS)


@dataclass
class Judged:
    """Decisions of the new exams and of the registry exams judged again.

    `assessments` and `flags` hold both; `rejudged` is (exam_id, ruleset) of the registry
    exams whose earlier decision these replace.
    """

    assessments: pl.DataFrame
    flags: pl.DataFrame
    rejudged: pl.DataFrame
    new: int


def _rejudged_ids(exams: pl.DataFrame, context: pl.DataFrame) -> pl.DataFrame:
    """Registry exams dated on or after a new exam of the same patient, already judged."""
    first_new = exams.group_by("patient_id").agg(pl.col("exam_date").min().alias("_first"))
    return (context.filter(pl.col(ASSESSED))
            .join(first_new, on="patient_id", how="inner")
            .filter(pl.col("exam_date") >= pl.col("_first"))
            .select("exam_id"))


def judge(exams: pl.DataFrame, context: pl.DataFrame, decide: Decider, *,
          rejudge: bool = True) -> Judged:
    """Decide `exams` with `context` (the same patients' registry exams) as history.

    `rejudge`: also return new decisions for the context exams whose history `exams`
    change (a load); a re-assessment leaves decisions it did not make alone.
    """
    context = context.join(exams.select("exam_id"), on="exam_id", how="anti")
    if context.height == 0:
        assessments, flags = decide(exams)
        empty = pl.DataFrame(schema={"exam_id": pl.String, "ruleset": pl.String})
        return Judged(assessments, flags, empty, assessments.height)
    again = _rejudged_ids(exams, context) if rejudge else context.clear().select("exam_id")
    frame = pl.concat([exams.select(_COLUMNS), context.select(_COLUMNS)],
                      how="vertical_relaxed")
    assessments, flags = decide(frame)
    wanted = pl.concat([exams.select("exam_id"), again]).get_column("exam_id")
    assessments = assessments.filter(pl.col("exam_id").is_in(wanted.implode()))
    flags = flags.filter(pl.col("exam_id").is_in(wanted.implode()))
    rejudged = assessments.join(again, on="exam_id", how="semi").select("exam_id", "ruleset")
    return Judged(assessments, flags, rejudged, assessments.height - rejudged.height)
