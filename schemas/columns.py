"""The canonical exam export's columns (registry contract §1): one table, every use.

`COLUMNS` names each column with its kind, whether a value is required, and its
vocabulary or plausible range. Built from it: the pandera model (`schemas.exam`), the
parse step (`transforms.parse`: kinds and case), the header checks (`sources.read_csv`),
the loader's column lists (`pipelines.ingest.load`), and a test holds the `exams` table of the
migrations equal to it. A new contract column is a row here (and a migration).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

#: `codes`: `;`-separated codes of a vocabulary, a list of distinct codes once parsed.
#: `code`: one code of a vocabulary (any case), checked by parsing, so that an unknown
#: code's reason can name the allowed ones (a `text` vocabulary is checked by the model).
Kind = Literal["text", "number", "integer", "bool", "date", "codes", "code"]

#: The diagnostic sites, in contract order. Every per-site list is built from this
#: tuple (the SITE-LOWEST tie-break order is a rule of its own: `transforms.rules.names`).
SITES: Final[tuple[str, ...]] = ("spine", "femoral_neck", "total_hip", "radius_33")

#: Sites of prior fragility fractures (`prior_fracture_sites`), in canonical order.
FRACTURE_SITES: Final[tuple[str, ...]] = ("hip", "vertebral", "humerus", "pelvis", "forearm",
                                          "other")

#: The osteoporosis drug taken now (`treatment_drug`), in contract order. `drug_holiday`
#: is a planned pause: not on treatment (`DRUG_HOLIDAY`); every other code is a drug.
TREATMENT_DRUGS: Final[tuple[str, ...]] = (
    "alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab", "teriparatide",
    "abaloparatide", "romosozumab", "raloxifene", "hormone_therapy", "other", "drug_holiday",
)
DRUG_HOLIDAY: Final = "drug_holiday"

#: The earliest plausible exam date: commercial DXA scanners exist from 1987 (the
#: Hologic QDR-1000), so an earlier exam date is a typo or a misread year (`0024`).
EARLIEST_EXAM_DATE: Final = dt.date(1987, 1, 1)

#: The earliest plausible birth date of a patient scanned since then.
EARLIEST_BIRTH_DATE: Final = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class Column:
    """One canonical column: what the parser makes of its text, what the model checks.

    `required`: a value must be present after parsing (and deriving age and BMI);
    `allowed`: its vocabulary (after `case` is applied); `ge`/`gt`/`le`/`lt`: its
    plausible range; `nonempty`: a required text must not be empty; `not_after` /
    `not_before`: another date column of the row that this date must not follow / precede
    (either blank: not checked).
    """

    name: str
    kind: Kind
    required: bool = False
    allowed: tuple[str, ...] | None = None
    case: Literal["upper", "lower"] | None = None
    ge: float | dt.date | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    nonempty: bool = False
    not_after: str | None = None
    not_before: str | None = None

    @property
    def dtype(self) -> pl.DataType:
        """The column's polars dtype in the typed exam frame."""
        return polars_dtype(self.kind)

    @property
    def sql_type(self) -> str:
        """The column's DuckDB type in the `exams` table."""
        return _SQL_TYPES[self.kind]


_SQL_TYPES: Final[dict[str, str]] = {
    "text": "VARCHAR", "number": "DOUBLE", "integer": "BIGINT", "bool": "BOOLEAN",
    "date": "DATE", "codes": "VARCHAR[]", "code": "VARCHAR",
}


def polars_dtype(kind: Kind) -> pl.DataType:
    """The polars dtype of a canonical column kind."""
    return {
        "text": pl.String(),
        "number": pl.Float64(),
        "integer": pl.Int64(),
        "bool": pl.Boolean(),
        "date": pl.Date(),
        "codes": pl.List(pl.String()),
        "code": pl.String(),
    }[kind]


def _site_columns(site: str) -> tuple[Column, ...]:
    """BMD (g/cm2) and T- and Z-score of one site."""
    return (
        Column(f"{site}_bmd", "number", gt=0.0, lt=3.0),
        Column(f"{site}_t", "number", ge=-8.0, le=8.0),
        Column(f"{site}_z", "number", ge=-8.0, le=8.0),
    )


_SPINE, _NECK, _HIP, _RADIUS = (_site_columns(site) for site in SITES)

#: Every canonical column, in contract order.
COLUMNS: Final[tuple[Column, ...]] = (
    Column("exam_id", "text", required=True, nonempty=True),
    Column("patient_id", "text", required=True, nonempty=True),
    Column("exam_date", "date", required=True, ge=EARLIEST_EXAM_DATE),
    Column("birth_date", "date", ge=EARLIEST_BIRTH_DATE),
    # filled from birth_date before validation; null means neither was given
    Column("age_years", "number", required=True, ge=0.0, le=120.0),
    Column("sex", "text", required=True, allowed=("F", "M"), case="upper"),
    Column("menopausal_status", "text", allowed=("pre", "peri", "post", "unknown"),
           case="lower"),
    Column("height_cm", "number", ge=50.0, le=250.0),
    Column("weight_kg", "number", ge=10.0, le=350.0),
    Column("bmi", "number", ge=8.0, le=80.0),
    Column("scanner_manufacturer", "text"),
    Column("scanner_model", "text"),
    Column("scanner_serial", "text"),
    *_SPINE,
    Column("spine_vertebrae", "integer", ge=1, le=4),
    *_NECK,
    *_HIP,
    Column("hip_side", "text", allowed=("left", "right"), case="lower"),
    *_RADIUS,
    Column("prior_fragility_fracture", "bool"),
    # a listed site implies prior_fragility_fracture (set where blank, contradicts "no")
    Column("prior_fracture_sites", "codes", allowed=FRACTURE_SITES, case="lower"),
    Column("vertebral_fracture", "bool"),
    Column("glucocorticoid_mg_day", "number", ge=0.0, le=1000.0),
    Column("glucocorticoid_months", "number", ge=0.0, le=1200.0),
    Column("parent_hip_fracture", "bool"),
    Column("parent_hip_fracture_age", "number", ge=0.0, le=120.0),
    Column("height_loss_cm", "number", ge=0.0, le=50.0),
    Column("current_smoker", "bool"),
    Column("alcohol_units_day", "number", ge=0.0, le=100.0),
    Column("kyphosis", "bool"),
    Column("back_pain", "bool"),
    Column("on_treatment", "bool"),
    Column("frax_major_pct", "number", ge=0.0, le=100.0),
    Column("frax_hip_pct", "number", ge=0.0, le=100.0),
    # the treatment course: a drug implies on_treatment yes, drug_holiday no (set where
    # blank; an explicit answer that disagrees contradicts); a fracture date implies
    # prior_fragility_fracture (set where blank, contradicts "no")
    Column("treatment_drug", "code", allowed=TREATMENT_DRUGS, case="lower"),
    Column("treatment_start_date", "date", ge=EARLIEST_BIRTH_DATE, not_after="exam_date",
           not_before="birth_date"),
    Column("last_fracture_date", "date", ge=EARLIEST_BIRTH_DATE, not_after="exam_date",
           not_before="birth_date"),
)

#: name -> Column.
BY_NAME: Final[dict[str, Column]] = {c.name: c for c in COLUMNS}

#: Every canonical column with its kind, in contract order.
CANONICAL_COLUMNS: Final[dict[str, Kind]] = {c.name: c.kind for c in COLUMNS}

#: Columns a file must carry in its header, or the whole file fails.
REQUIRED_HEADER: Final[tuple[str, ...]] = ("exam_id", "patient_id", "exam_date", "sex")

#: At least one of these must be in the header (age at the exam, or a birth date).
AGE_HEADER: Final[tuple[str, ...]] = ("birth_date", "age_years")

#: Boolean spellings the contract accepts (any case); blank means "not recorded".
TRUE_WORDS: Final[tuple[str, ...]] = ("true", "yes", "y", "1")
FALSE_WORDS: Final[tuple[str, ...]] = ("false", "no", "n", "0")
