"""The pandera model of a canonical exam after parsing (registry contract §1).

Checks are polars expressions (no element-wise checks) so that millions of rows validate
in well under a second. A dataframe-level check's `error` is its reason code in
`schemas.reasons`, which words it (column checks are worded there from pandera's check
names); reasons name the column and the rule, never the offending value.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

SCORE = {"ge": -8.0, "le": 8.0}
PERCENT = {"ge": 0.0, "le": 100.0}


def _bmd() -> object:
    return pa.Field(nullable=True, gt=0.0, lt=3.0)


def _score() -> object:
    return pa.Field(nullable=True, **SCORE)


class CanonicalExam(pa.DataFrameModel):
    """One DXA exam as the canonical export describes it, typed."""

    exam_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    patient_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    exam_date: Series[pl.Date] = pa.Field(nullable=False)
    birth_date: Series[pl.Date] = pa.Field(nullable=True)
    #: filled from birth_date before validation; null means neither was given
    age_years: Series[float] = pa.Field(nullable=False, ge=0.0, le=120.0)
    sex: Series[str] = pa.Field(nullable=False, isin=["F", "M"])
    menopausal_status: Series[str] = pa.Field(
        nullable=True, isin=["pre", "peri", "post", "unknown"]
    )
    height_cm: Series[float] = pa.Field(nullable=True, ge=50.0, le=250.0)
    weight_kg: Series[float] = pa.Field(nullable=True, ge=10.0, le=350.0)
    bmi: Series[float] = pa.Field(nullable=True, ge=8.0, le=80.0)
    scanner_manufacturer: Series[str] = pa.Field(nullable=True)
    scanner_model: Series[str] = pa.Field(nullable=True)
    scanner_serial: Series[str] = pa.Field(nullable=True)
    spine_bmd: Series[float] = _bmd()
    spine_t: Series[float] = _score()
    spine_z: Series[float] = _score()
    spine_vertebrae: Series[int] = pa.Field(nullable=True, ge=1, le=4)
    femoral_neck_bmd: Series[float] = _bmd()
    femoral_neck_t: Series[float] = _score()
    femoral_neck_z: Series[float] = _score()
    total_hip_bmd: Series[float] = _bmd()
    total_hip_t: Series[float] = _score()
    total_hip_z: Series[float] = _score()
    hip_side: Series[str] = pa.Field(nullable=True, isin=["left", "right"])
    radius_33_bmd: Series[float] = _bmd()
    radius_33_t: Series[float] = _score()
    radius_33_z: Series[float] = _score()
    prior_fragility_fracture: Series[bool] = pa.Field(nullable=True)
    vertebral_fracture: Series[bool] = pa.Field(nullable=True)
    glucocorticoid_mg_day: Series[float] = pa.Field(nullable=True, ge=0.0, le=1000.0)
    glucocorticoid_months: Series[float] = pa.Field(nullable=True, ge=0.0, le=1200.0)
    parent_hip_fracture: Series[bool] = pa.Field(nullable=True)
    parent_hip_fracture_age: Series[float] = pa.Field(nullable=True, ge=0.0, le=120.0)
    height_loss_cm: Series[float] = pa.Field(nullable=True, ge=0.0, le=50.0)
    current_smoker: Series[bool] = pa.Field(nullable=True)
    alcohol_units_day: Series[float] = pa.Field(nullable=True, ge=0.0, le=100.0)
    kyphosis: Series[bool] = pa.Field(nullable=True)
    back_pain: Series[bool] = pa.Field(nullable=True)
    on_treatment: Series[bool] = pa.Field(nullable=True)
    frax_major_pct: Series[float] = pa.Field(nullable=True, **PERCENT)
    frax_hip_pct: Series[float] = pa.Field(nullable=True, **PERCENT)

    class Config:
        strict = False  # bookkeeping columns (_row_number, _raw, ...) ride along
        coerce = False  # parsing already typed every column; a wrong dtype is a bug

    @pa.dataframe_check(error="EXAM_DATE_IN_FUTURE")
    def exam_date_not_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        today = dt.date.today()
        return data.lazyframe.select(
            pl.col("exam_date").is_null() | (pl.col("exam_date") <= pl.lit(today))
        )

    @pa.dataframe_check(error="BIRTH_AFTER_EXAM")
    def birth_before_exam(cls, data: pa.PolarsData) -> pl.LazyFrame:
        birth, exam = pl.col("birth_date"), pl.col("exam_date")
        return data.lazyframe.select(birth.is_null() | exam.is_null() | (birth < exam))

    @pa.dataframe_check(error="NO_SCORED_SITE")
    def has_a_scored_site(cls, data: pa.PolarsData) -> pl.LazyFrame:
        scores = [f"{site}_{kind}" for site in SITES_FOR_CHECK for kind in ("t", "z")]
        return data.lazyframe.select(pl.any_horizontal(pl.col(scores).is_not_null()))


SITES_FOR_CHECK = ("spine", "femoral_neck", "total_hip", "radius_33")
