"""Answers a row implies but leaves blank: filled before validation (registry contract §1).

A listed fracture site or a `last_fracture_date` is a prior fragility fracture; a drug
named in `treatment_drug` is treatment, a `drug_holiday` is not. Each fills its column
only where it is blank: an explicit answer that disagrees is left as written, for the
model (`schemas.exam`) to quarantine the row as contradictory, never overwritten.
"""

from __future__ import annotations

import polars as pl

from schemas.columns import DRUG_HOLIDAY


def _where_blank(column: str, implied: pl.Expr) -> pl.Expr:
    """`column` as written; where blank, the implied answer (null: nothing implied)."""
    return pl.coalesce(pl.col(column), implied).alias(column)


def derive_implied(exams: pl.DataFrame) -> pl.DataFrame:
    """Fill `prior_fragility_fracture` and `on_treatment` where the row implies them.

    `prior_fragility_fracture`: yes when sites are listed or a fracture is dated.
    `on_treatment`: yes when a drug is named, no when the row says `drug_holiday`.
    """
    fractured = (pl.col("prior_fracture_sites").is_not_null()
                 | pl.col("last_fracture_date").is_not_null())
    drug = pl.col("treatment_drug")
    treated = pl.when(drug == DRUG_HOLIDAY).then(False).when(drug.is_not_null()).then(True)
    return exams.with_columns(
        _where_blank("prior_fragility_fracture", pl.when(fractured).then(True)),
        _where_blank("on_treatment", treated),
    )
