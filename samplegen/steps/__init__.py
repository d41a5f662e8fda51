"""The named steps that build synthetic canonical exams, one concern each.

`samplegen.canonical._build` runs `STEPS` in order on a lazy frame of patients (one row
per patient: ``p``, ``n_visits``, ``n_eff``, ``first_exam_no``). Patient-level steps
(`samplegen.steps.patients`) add ``_``-prefixed helper columns; `one_row_per_exam`
explodes the patients into their visits (``v`` = 0, 1, 2); the exam-level steps
(`samplegen.steps.exams`, `samplegen.steps.questionnaire`) add the contract columns. Every
draw is a keyed counter-based random number (`samplegen._rng`): patient draws are keyed
on ``p``, exam draws on ``p * 4 + v``, so a value depends only on the seed, the stream
name and its key, never on chunking, row order or the order of the steps' columns.
"""

from __future__ import annotations

from samplegen.steps.course import treatment_course
from samplegen.steps.draws import Draws
from samplegen.steps.exams import (
    bone_density,
    one_row_per_exam,
    scan_regions,
    scanned_sites,
    scanners,
    treatment_and_fractures,
)
from samplegen.steps.patients import (
    demographics,
    first_exam_t,
    follow_up,
    interval_changes,
    risk_profile,
    usual_regions,
    visit_span,
)
from samplegen.steps.questionnaire import frax, identity_and_body, risk_factors

__all__ = ["STEPS", "Draws"]

#: The steps in the order `canonical._build` runs them.
STEPS = (
    demographics,
    follow_up,
    usual_regions,
    risk_profile,
    visit_span,
    first_exam_t,
    interval_changes,
    one_row_per_exam,
    scanners,
    treatment_and_fractures,
    scan_regions,
    bone_density,
    scanned_sites,
    identity_and_body,
    risk_factors,
    frax,
    treatment_course,
)
