"""The treatment course of the sample (contract section 1: `treatment_drug`,
`treatment_start_date`, `last_fracture_date`), read by the treatment-course flags and the
quality measures.

Per patient, so that a patient's exams agree: one drug (alendronate 40%, risedronate 8%,
ibandronate 4%, zoledronate 14%, denosumab 20%, teriparatide 5%, abaloparatide 2%,
romosozumab 2%, raloxifene 5%), named on the exams that say `on_treatment` yes (never
beside a no or a blank); its start 0-8 years before the patient's first treated exam
(recorded on 85% of those exams). A fracture date on the exams that say
`prior_fragility_fracture` yes, 30-1500 days before the patient's first exam recording a
fracture (70% of them; never before birth), so that some fractures follow the start of
treatment and some are scanned within 183 days, some later.
"""

from __future__ import annotations

import polars as pl

from samplegen.steps.draws import Draws

#: Drug codes and their shares among treated patients.
DRUGS: dict[str, float] = {
    "alendronate": 0.40, "risedronate": 0.08, "ibandronate": 0.04, "zoledronate": 0.14,
    "denosumab": 0.20, "teriparatide": 0.05, "abaloparatide": 0.02, "romosozumab": 0.02,
    "raloxifene": 0.05,
}
#: Share of treated exams whose start date is recorded.
START_RECORDED = 0.85
#: Share of fractured exams whose fracture date is recorded.
FRACTURE_DATE_RECORDED = 0.70


def treatment_course(lf: pl.LazyFrame, d: Draws) -> pl.LazyFrame:
    """`treatment_drug`, `treatment_start_date` and `last_fracture_date` per exam, from
    patient-level draws (see the module docstring)."""
    pr, er = d.patient, d.exam
    names = list(DRUGS)
    drug = pr.choice("drug", list(DRUGS.values())).replace_strict(
        dict(enumerate(names)), return_dtype=pl.String)
    treated = pl.col("on_treatment").fill_null(False)
    fractured = pl.col("prior_fragility_fracture").fill_null(False)
    first_treated = pl.col("exam_date").filter(treated).min().over("p")
    first_fracture = pl.col("exam_date").filter(fractured).min().over("p")
    start = first_treated - pl.duration(days=pr.integers("start_back", 0, 8 * 365))
    fracture = first_fracture - pl.duration(days=pr.integers("fracture_back", 30, 1500))
    return lf.with_columns(
        treatment_drug=pl.when(treated).then(drug),
        treatment_start_date=pl.when(treated & (er.uniform("start_recorded") < START_RECORDED))
        .then(pl.max_horizontal(start, pl.col("birth_date"))),
        last_fracture_date=pl.when(
            fractured & (er.uniform("fracture_date_recorded") < FRACTURE_DATE_RECORDED))
        .then(pl.max_horizontal(fracture, pl.col("birth_date"))),
    )
