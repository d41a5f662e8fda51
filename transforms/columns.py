"""The canonical exam export's columns, as the registry contract (§1) names them.

One table of names and kinds drives header checks, parsing and the DuckDB `exams` table,
so that a new contract column is added in exactly one place.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["text", "number", "integer", "bool", "date"]

#: Every canonical column with its kind, in contract order.
CANONICAL_COLUMNS: Final[dict[str, Kind]] = {
    "exam_id": "text",
    "patient_id": "text",
    "exam_date": "date",
    "birth_date": "date",
    "age_years": "number",
    "sex": "text",
    "menopausal_status": "text",
    "height_cm": "number",
    "weight_kg": "number",
    "bmi": "number",
    "scanner_manufacturer": "text",
    "scanner_model": "text",
    "scanner_serial": "text",
    "spine_bmd": "number",
    "spine_t": "number",
    "spine_z": "number",
    "spine_vertebrae": "integer",
    "femoral_neck_bmd": "number",
    "femoral_neck_t": "number",
    "femoral_neck_z": "number",
    "total_hip_bmd": "number",
    "total_hip_t": "number",
    "total_hip_z": "number",
    "hip_side": "text",
    "radius_33_bmd": "number",
    "radius_33_t": "number",
    "radius_33_z": "number",
    "prior_fragility_fracture": "bool",
    "vertebral_fracture": "bool",
    "glucocorticoid_mg_day": "number",
    "glucocorticoid_months": "number",
    "parent_hip_fracture": "bool",
    "parent_hip_fracture_age": "number",
    "height_loss_cm": "number",
    "current_smoker": "bool",
    "alcohol_units_day": "number",
    "kyphosis": "bool",
    "back_pain": "bool",
    "on_treatment": "bool",
    "frax_major_pct": "number",
    "frax_hip_pct": "number",
}

#: Columns a file must carry in its header, or the whole file fails.
REQUIRED_HEADER: Final[tuple[str, ...]] = ("exam_id", "patient_id", "exam_date", "sex")

#: At least one of these must be in the header (age at the exam, or a birth date).
AGE_HEADER: Final[tuple[str, ...]] = ("birth_date", "age_years")

#: Diagnostic sites in the tie-break order of SITE-LOWEST (spine, total hip, femoral
#: neck, radius).
SITES: Final[tuple[str, ...]] = ("spine", "total_hip", "femoral_neck", "radius_33")

#: Boolean spellings the contract accepts (any case); blank means "not recorded".
TRUE_WORDS: Final[tuple[str, ...]] = ("true", "yes", "y", "1")
FALSE_WORDS: Final[tuple[str, ...]] = ("false", "no", "n", "0")

#: Internal bookkeeping columns carried beside the canonical ones.
ROW_NUMBER: Final = "_row_number"  # 1 = first data row of the file
PARSE_ERRORS: Final = "_parse_errors"  # list of reasons: cells whose text did not parse
RAW: Final = "_raw"  # str: the input row as read (JSON), when an adapter gives one
ROW_PROBLEM: Final = "_row_problem"  # reason: why the row itself is malformed (short row)
