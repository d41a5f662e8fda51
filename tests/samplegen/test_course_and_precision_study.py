"""The sample's treatment course (drug, start, fracture date) and its precision study."""

from __future__ import annotations

import polars as pl

from samplegen.canonical import SCHEMA
from samplegen.precision_study import (
    STUDIES,
    STUDY_SITES,
    precision_study_exams,
    precision_truth,
)
from samplegen.steps.course import DRUGS

SEED = 4242


def test_drugs_only_on_treatment_dates_consistent(exams: pl.DataFrame) -> None:
    drug = pl.col("treatment_drug")
    treated = exams.filter(pl.col("on_treatment").fill_null(False))
    assert exams.filter(drug.is_not_null() & ~pl.col("on_treatment").fill_null(False)).height == 0
    assert treated.filter(drug.is_null()).height == 0
    assert set(treated["treatment_drug"]) == set(DRUGS)
    # one drug and one start date per patient
    per_patient = treated.group_by("patient_id").agg(
        drug.n_unique().alias("drugs"),
        pl.col("treatment_start_date").drop_nulls().n_unique().alias("starts"))
    assert per_patient["drugs"].max() == 1 and per_patient["starts"].max() <= 1
    recorded = treated["treatment_start_date"].is_not_null().mean()
    assert 0.80 < recorded < 0.90
    for column in ("treatment_start_date", "last_fracture_date"):
        dated = exams.filter(pl.col(column).is_not_null())
        assert (dated[column] <= dated["exam_date"]).all()
        assert (dated[column] >= dated["birth_date"]).all()
    fractured = exams.filter(pl.col("last_fracture_date").is_not_null())
    assert fractured["prior_fragility_fracture"].all()
    share = fractured.height / exams["prior_fragility_fracture"].fill_null(False).sum()
    assert 0.65 < share < 0.75


def test_precision_study_sets_and_truth() -> None:
    study = precision_study_exams(SEED, SCHEMA)
    assert study.schema == SCHEMA
    sets = study.group_by("scanner_serial", "patient_id").agg(
        pl.len().alias("scans"), pl.col("exam_date").n_unique().alias("days"))
    assert sorted(sets.group_by("scanner_serial").agg(
        pl.len().alias("patients"), pl.col("scans").max().alias("most"),
        pl.col("scans").min().alias("fewest"), pl.col("days").max()).rows()) == [
            ("200871", 15, 3, 3, 1), ("301457M", 30, 2, 2, 1)]
    assert study["exam_id"].n_unique() == study.height == 105
    assert study.select(pl.col(f"{s}_bmd" for s in STUDY_SITES).is_not_null().all()).row(0) \
        == (True, True, True)
    assert precision_truth() == {s.serial: s.true_cv_pct for s in STUDIES}
