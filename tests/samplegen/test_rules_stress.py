"""samplegen.rules_stress: seeded, exactly n rows, patients of 3-5 exams, contract-valid
combinations (a listed site or a fracture date only with a fracture yes)."""

from __future__ import annotations

import polars as pl
import pytest

from samplegen.rules_stress import generate_rule_exams


@pytest.mark.parametrize("n", [3, 7, 1000])
def test_sizes_and_determinism(n: int) -> None:
    frame = generate_rule_exams(n, 5)
    assert frame.height == n
    assert frame.equals(generate_rule_exams(n, 5))
    assert not frame.equals(generate_rule_exams(n, 6))
    sizes = frame.group_by("patient_id").len()["len"]
    assert sizes.is_between(3, 5).all()
    assert frame["exam_id"].n_unique() == n


def test_consistent_rows() -> None:
    frame = generate_rule_exams(5000, 9)
    fx = pl.col("prior_fragility_fracture")
    assert frame.filter(pl.col("prior_fracture_sites").is_not_null() & ~fx.fill_null(False)
                        ).is_empty()
    assert frame.filter(pl.col("last_fracture_date").is_not_null() & ~fx.fill_null(False)
                        ).is_empty()
    assert frame.filter(pl.col("last_fracture_date") > pl.col("exam_date")).is_empty()
    assert frame.filter(pl.col("treatment_start_date") > pl.col("exam_date")).is_empty()
    # one sex per patient; one age per visit; some same-day visits
    assert (frame.group_by("patient_id").agg(pl.col("sex").n_unique())["sex"] == 1).all()
    visits = frame.group_by("patient_id", "exam_date").agg(
        pl.len(), pl.col("age_years").n_unique().alias("ages"))
    assert (visits["ages"] == 1).all() and (visits["len"] > 1).any()
