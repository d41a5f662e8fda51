"""Public entry point: decide every exam of a frame under one ruleset, vectorized.

The exams go through a chain of `with_columns` stages (basis, sites, diagnosis, risk,
treatment, follow-up); each stage reads the columns of the ones before, so every
condition is computed once and no Python code runs per row. Text and list outputs come
from `outputs.lookup`, built once per distinct combination of fired rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from schemas.columns import CANONICAL_COLUMNS, polars_dtype
from transforms.rules import (
    basis,
    caroc,
    diagnosis,
    followup,
    frax_adjust,
    history,
    outputs,
    risk,
    sites,
    treatment,
    very_high_risk,
)
from transforms.rules.flags import build_flags
from transforms.rules.patient_order import restore_order
from transforms.rules.ruleset import Ruleset
from transforms.tscore import REFERENCE_SITES, not_computed_again, not_computed_column

#: The assessments frame's columns, in order (registry contract section 3, plus
#: diagnostic_z_score: the lowest valid Z-score).
ASSESSMENT_COLUMNS: tuple[str, ...] = (
    "exam_id",
    "ruleset",
    "basis",
    "diagnostic_site",
    "diagnostic_t_score",
    "diagnostic_z_score",
    "who_category",
    "z_category",
    "high_risk_features",
    "risk_factor_count",
    "treatment",
    "reasons",
    "first_line_therapy",
    "secondary_cause_workup",
    "vfa_recommended",
    "next_dxa_due",
    "lifestyle",
    "frax_major_adjusted",
    "frax_hip_adjusted",
    "caroc_risk",
    "caroc_reasons",
    "history_used",
)


@dataclass(frozen=True)
class Decisions:
    """What `decide` returns: one assessment row per exam, and the flags raised."""

    assessments: pl.DataFrame
    flags: pl.DataFrame


#: Columns the rules read beyond the canonical ones: an absent column means "not
#: recorded" (prior_fracture_sites: the distinct site codes of prior fragility fractures,
#: null when not recorded), except the T-score step's `_t_not_computed_<site>`, worked
#: out again where the exams come from the registry (`tscore.not_computed_again`).
EXTRA_INPUTS: dict[str, pl.DataType] = {
    "prior_fracture_sites": pl.List(pl.String),
    **{not_computed_column(site): pl.String for site in REFERENCE_SITES},
}


def _input(exams: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as the rules read it; absent: typed nulls (never fire), or worked out."""
    if name not in exams.columns:
        again = not_computed_again(exams.columns, name)
        return pl.lit(None, dtype=dtype).alias(name) if again is None else again
    if dtype == pl.List(pl.String) and exams.schema[name] == pl.String:
        # `;`-separated codes as written in the export (validated upstream)
        return pl.col(name).str.split(";").list.eval(pl.element().str.strip_chars()).alias(name)
    return pl.col(name)


def _canonical(exams: pl.DataFrame) -> pl.LazyFrame:
    """Exactly the columns the rules read; any the caller lacks become typed nulls."""
    columns = {name: polars_dtype(kind) for name, kind in CANONICAL_COLUMNS.items()}
    columns.update(EXTRA_INPUTS)
    return exams.lazy().select(_input(exams, name, dtype) for name, dtype in columns.items())


def decided_frame(exams: pl.DataFrame, ruleset: Ruleset) -> pl.DataFrame:
    """The exams with every intermediate and fired column, and the output key."""
    rows = _canonical(exams).with_columns(*basis.basis_stage(ruleset),
                                          *sites.validity_stage(ruleset))
    frame = (
        history.history_stage(rows, ruleset)
        .with_columns(*basis.basis_stage(ruleset))  # again: on the visit's age and status
        .with_columns(sites.lowest_stage())
        .with_columns(*sites.site_stage(), *basis.low_bmd_stage(ruleset))
        .with_columns(diagnosis.assessed_stage())
        .with_columns(*diagnosis.diagnosis_stage(ruleset), *risk.features_stage(ruleset))
        .with_columns(*risk.age_stage(ruleset), *treatment.seen_stage(ruleset),
                      *frax_adjust.adjusted_stage(ruleset), *caroc.inputs_stage(ruleset))
        .with_columns(*caroc.basal_stage(), *very_high_risk.lines_stage(ruleset))
        .with_columns(caroc.caroc_stage(ruleset))
        .with_columns(treatment.lines_stage(ruleset))
        .with_columns(treatment.level_stage(ruleset))
        .with_columns(followup.followup_stage(ruleset))
        .with_columns(followup.monitoring_stage(ruleset))
        .with_columns(*followup.outputs_stage(ruleset), *outputs.key_exprs())
        .collect()
    )
    return restore_order(history.cap_forearm_followup(frame))


def decide(exams: pl.DataFrame, ruleset: Ruleset) -> Decisions:
    """Decide every exam (one row each, canonical columns; extra columns are ignored)."""
    frame = decided_frame(exams, ruleset)
    table = outputs.lookup(frame.select(outputs.KEYS).unique(), ruleset)
    # Eager on purpose: the lazy engine's join is several times slower here.
    assessments = (
        frame.select(
            "exam_id",
            *outputs.KEYS,
            "diagnostic_t_score",
            "diagnostic_z_score",
            "secondary_cause_workup",
            "vfa_recommended",
            "next_dxa_due",
            "frax_major_adjusted",
            "frax_hip_adjusted",
            caroc.caroc_risk().alias("caroc_risk"),
            "history_used",
        )
        .join(table, on=list(outputs.KEYS), how="left", maintain_order="left")
        .with_columns(pl.lit(ruleset.label).alias("ruleset"))
        .select(ASSESSMENT_COLUMNS)
    )
    return Decisions(assessments=assessments, flags=build_flags(frame, ruleset))
