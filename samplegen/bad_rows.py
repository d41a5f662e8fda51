"""Corrupt a CSV-ready canonical frame with the defects the pipeline must quarantine.

`inject_bad_rows` takes the all-strings frame from `samplegen.canonical.to_text` (null =
blank cell) and corrupts about ``fraction`` of its rows, cycling through `KINDS` so that
every kind occurs at least once (when the frame has enough rows). It also inserts a couple
of exact duplicate rows: identical copies of good rows, which the pipeline must treat as
duplicates (loaded once), not as bad rows. Extra columns (e.g. a ``_file`` tag) are
carried along, so a copy lands wherever its source row goes.

Pass ``label_column`` to get a column naming each row's defect (null for clean rows,
``exact_duplicate`` for the duplicate copies); `bad_row_manifest` counts them.
"""

from __future__ import annotations

import polars as pl

from samplegen._rng import Rng

#: Defects, one per corrupted row, in manifest order. ``conflicting_exam_id`` adds a copy
#: of the row with the same exam_id and different content: both rows are bad.
KINDS: tuple[str, ...] = (
    "missing_exam_id",  # exam_id blank
    "missing_sex",  # sex blank
    "sex_X",  # sex = X
    "menopausal_status_sometimes",  # menopausal_status = sometimes
    "fracture_site_unknown_code",  # prior_fracture_sites with a code not in the contract
    "fracture_sites_contradict",  # prior_fragility_fracture = no, yet sites listed
    "t_score_out_of_range",  # a T-score of 12 (outside [-8, 8])
    "bmd_zero",  # a BMD of 0
    "bmd_too_high",  # a BMD of 3.5 g/cm2
    "age_130",  # age_years = 130 (birth_date blanked)
    "invalid_exam_date",  # exam_date = 2024-02-30
    "future_exam_date",  # exam_date 15 years later (age_years blanked if birth_date)
    "birth_after_exam",  # birth_date after exam_date (age_years blanked)
    "no_site_scores",  # every T- and Z-score blank (BMDs kept)
    "non_numeric_number",  # `abc` in a number column
    "bool_maybe",  # `maybe` in a boolean column
    "negative_glucocorticoid_dose",  # glucocorticoid_mg_day = -5
    "frax_150",  # frax_major_pct = 150
    "conflicting_exam_id",  # same exam_id twice, different content (2 rows)
)
EXACT_DUPLICATE = "exact_duplicate"

#: Kinds that only the checks of `prior_fracture_sites` (clinical rules version 2)
#: recognise as bad.
FRACTURE_SITE_KINDS: tuple[str, ...] = ("fracture_site_unknown_code", "fracture_sites_contradict")
#: Unknown `prior_fracture_sites` values written in turn: a code alone, a code beside a
#: good one.
_UNKNOWN_SITE_VALUES = ("wrist", "hip;femur")

_T_COLUMNS = ("spine_t", "total_hip_t", "femoral_neck_t", "radius_33_t")
_Z_COLUMNS = ("spine_z", "total_hip_z", "femoral_neck_z", "radius_33_z")
_BMD_COLUMNS = ("total_hip_bmd", "femoral_neck_bmd", "spine_bmd", "radius_33_bmd")
_NUMBER_TARGETS = ("weight_kg", "femoral_neck_bmd", "frax_major_pct")
_BOOL_TARGETS = ("current_smoker", "prior_fragility_fracture", "on_treatment")


def _first_present(columns: tuple[str, ...], frame: pl.DataFrame) -> dict[str, pl.Expr]:
    """Per column, 'this is the first non-blank one of ``columns``' (the last one if all
    are blank)."""
    present = [c for c in columns if c in frame.columns]
    out: dict[str, pl.Expr] = {}
    earlier_blank = pl.lit(True)
    for index, name in enumerate(present):
        is_last = index == len(present) - 1
        here = pl.lit(True) if is_last else pl.col(name).is_not_null()
        out[name] = earlier_blank & here
        earlier_blank = earlier_blank & pl.col(name).is_null()
    return out


def inject_bad_rows(
    frame_as_text: pl.DataFrame,
    fraction: float,
    seed: int,
    *,
    label_column: str | None = None,
    n_exact_duplicates: int = 2,
) -> pl.DataFrame:
    """Corrupt about ``fraction`` of the rows (each kind at least once) and insert
    ``n_exact_duplicates`` identical copies of clean rows; deterministic for ``seed``.

    Returns the frame with the same columns (plus ``label_column`` if given); the extra
    rows (conflicting and exact duplicates) are inserted at random positions.
    """
    if any(dtype != pl.String for dtype in frame_as_text.dtypes):
        raise TypeError("inject_bad_rows expects an all-string frame (see canonical.to_text)")
    n = frame_as_text.height
    n_kinds = len(KINDS)
    k = 0
    if n and fraction > 0:
        k = min(n, max(n_kinds, round(fraction * n)))
    n_dup = max(0, min(n_exact_duplicates, n - k))

    rng = Rng(seed, "__i")
    df = frame_as_text.with_row_index("__i").with_columns(
        __rank=rng.bits("bad_row_pick").rank("ordinal").cast(pl.Int64) - 1
    )
    kind_index = pl.when(pl.col("__rank") < k).then(pl.col("__rank") % n_kinds)
    df = df.with_columns(
        __kind=kind_index.replace_strict(dict(enumerate(KINDS)), return_dtype=pl.String),
        __occurrence=pl.col("__rank") // n_kinds,
    )
    kind = pl.col("__kind")
    occurrence = pl.col("__occurrence")

    edits: dict[str, list[tuple[pl.Expr, pl.Expr]]] = {}

    def edit(column: str, when: pl.Expr, value: pl.Expr | str | None) -> None:
        if column not in df.columns:
            return
        if not isinstance(value, pl.Expr):
            value = pl.lit(value, dtype=pl.String)
        edits.setdefault(column, []).append((when.fill_null(False), value))

    def is_kind(name: str) -> pl.Expr:
        return kind == name

    exam_date = pl.col("exam_date").str.to_date("%Y-%m-%d", strict=False)
    edit("exam_id", is_kind("missing_exam_id"), None)
    edit("sex", is_kind("missing_sex"), None)
    edit("sex", is_kind("sex_X"), "X")
    edit("menopausal_status", is_kind("menopausal_status_sometimes"), "sometimes")
    for index, value in enumerate(_UNKNOWN_SITE_VALUES):
        when = is_kind("fracture_site_unknown_code") & (
            occurrence % len(_UNKNOWN_SITE_VALUES) == index
        )
        edit("prior_fracture_sites", when, value)
    edit("prior_fragility_fracture", is_kind("fracture_site_unknown_code"), "yes")
    edit("prior_fragility_fracture", is_kind("fracture_sites_contradict"), "no")
    edit("prior_fracture_sites", is_kind("fracture_sites_contradict"), "vertebral")
    for name, first in _first_present(_T_COLUMNS, df).items():
        edit(name, is_kind("t_score_out_of_range") & first, "12")
    for name, first in _first_present(_BMD_COLUMNS, df).items():
        edit(name, is_kind("bmd_zero") & first, "0")
    for name, first in _first_present(tuple(reversed(_BMD_COLUMNS)), df).items():
        edit(name, is_kind("bmd_too_high") & first, "3.5")
    edit("age_years", is_kind("age_130"), "130")
    edit("birth_date", is_kind("age_130"), None)
    edit("exam_date", is_kind("invalid_exam_date"), "2024-02-30")
    edit(
        "exam_date",
        is_kind("future_exam_date"),
        exam_date.dt.offset_by("15y").dt.to_string("%Y-%m-%d"),
    )
    edit(
        "age_years",
        is_kind("future_exam_date") & pl.col("birth_date").is_not_null(),
        None,
    )
    edit(
        "birth_date",
        is_kind("birth_after_exam"),
        (exam_date + pl.duration(days=30 + (pl.col("__rank") * 37) % 365)).dt.to_string("%Y-%m-%d"),
    )
    edit("age_years", is_kind("birth_after_exam"), None)
    for name in _T_COLUMNS + _Z_COLUMNS:
        edit(name, is_kind("no_site_scores"), None)
    for index, name in enumerate(_NUMBER_TARGETS):
        when = is_kind("non_numeric_number") & (occurrence % len(_NUMBER_TARGETS) == index)
        edit(name, when, "abc")
    for index, name in enumerate(_BOOL_TARGETS):
        edit(name, is_kind("bool_maybe") & (occurrence % len(_BOOL_TARGETS) == index), "maybe")
    edit("glucocorticoid_mg_day", is_kind("negative_glucocorticoid_dose"), "-5")
    edit("frax_major_pct", is_kind("frax_150"), "150")

    df = df.with_columns([_apply(column, changes) for column, changes in edits.items()])

    # Extra rows: a conflicting copy of each `conflicting_exam_id` row, exact duplicates
    # of clean rows. Each goes right after a randomly chosen row.
    conflicting = df.filter(kind == "conflicting_exam_id")
    if "weight_kg" in df.columns:
        new_weight = (
            (pl.col("weight_kg").cast(pl.Float64, strict=False) + 4.5).round(1).cast(pl.String)
        )
        conflicting = conflicting.with_columns(weight_kg=pl.coalesce(new_weight, pl.lit("70.0")))
    duplicates = df.filter((pl.col("__rank") >= k) & (pl.col("__rank") < k + n_dup)).with_columns(
        __kind=pl.lit(EXACT_DUPLICATE)
    )
    extra = pl.concat([conflicting, duplicates])
    extra_rng = Rng(seed, pl.col("__i"))
    extra = extra.with_columns(
        __pos=(extra_rng.uniform("extra_row_position") * n).floor().cast(pl.Int64) * 2 + 1
    )
    df = df.with_columns(__pos=pl.col("__i").cast(pl.Int64) * 2)
    df = pl.concat([df, extra]).sort("__pos", "__i", maintain_order=True)
    if label_column is not None:
        df = df.with_columns(pl.col("__kind").alias(label_column))
    return df.drop("__i", "__rank", "__kind", "__occurrence", "__pos")


def _apply(column: str, changes: list[tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    expr: pl.Expr = pl.col(column)
    for when, value in reversed(changes):
        expr = pl.when(when).then(value.cast(pl.String)).otherwise(expr)  # first edit wins
    return expr.alias(column)


def bad_row_manifest(frame: pl.DataFrame, label_column: str) -> dict[str, int]:
    """Rows per defect kind (in `KINDS` order, then ``exact_duplicate``), zeros omitted."""
    counts = dict(
        frame.filter(pl.col(label_column).is_not_null()).group_by(label_column).len().iter_rows()
    )
    order = (*KINDS, EXACT_DUPLICATE)
    return {name: counts[name] for name in order if counts.get(name)}
