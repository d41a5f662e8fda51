"""Split parsed exams into valid rows and quarantine rows, with every failed check named.

pandera runs the model with `lazy=True`; its failure cases (one per failed check and row)
are folded together with parse errors and duplicate-id conflicts into one `errors` text per
row. Rows are never dropped: each one ends up valid, quarantined, or counted as an exact
duplicate, and `Split.rows_*` prove it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.exam import CanonicalExam
from transforms.columns import PARSE_ERRORS, ROW_NUMBER
from transforms.read_csv import RAW

#: Columns of a quarantine frame (the store adds run_id and file_sha256).
QUARANTINE_COLUMNS = ("row_number", "exam_id", "errors", "raw")

_CHECK_WORDING = {
    "not_nullable": "is required",
    "isin": "is not one of the allowed values",
    "greater_than": "is below its plausible range (must be >",
    "greater_than_or_equal_to": "is below its plausible range (must be >=",
    "less_than": "is above its plausible range (must be <",
    "less_than_or_equal_to": "is above its plausible range (must be <=",
    "str_length": "is empty",
}


class SchemaProblem(Exception):
    """A structural schema failure (missing column, wrong dtype): a bug or a bad adapter."""


@dataclass
class Split:
    """The outcome of validating one file's rows."""

    valid: pl.DataFrame
    quarantine: pl.DataFrame  # QUARANTINE_COLUMNS
    rows_duplicate: int

    @property
    def rows_loaded(self) -> int:
        return self.valid.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height


def _check_message(column: pl.Expr, check: pl.Expr) -> pl.Expr:
    """Human wording of a pandera failure, e.g. `spine_t: is above its plausible range (...)`."""
    check_name = check.str.extract(r"^([a-z_]+)", 1)
    bound = check.str.extract(r"\((.*)\)$", 1)
    wording = check_name.replace_strict(_CHECK_WORDING, default=None)
    with_bound = pl.when(bound.is_not_null() & ~check_name.is_in(["isin", "str_length"]))
    described = (
        with_bound.then(pl.concat_str([wording, pl.lit(" "), bound, pl.lit(")")]))
        .otherwise(pl.coalesce(wording, check))
    )
    # dataframe-level checks carry their full message already
    return (
        pl.when(wording.is_null() & check.str.contains(": "))
        .then(check)
        .otherwise(pl.concat_str([column, pl.lit(": "), described]))
    )


def schema_failures(exams: pl.DataFrame) -> pl.DataFrame:
    """Run the pandera model; return one row per (row position, message) that failed."""
    try:
        CanonicalExam.validate(exams, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        structural = cases.filter(pl.col("index").is_null())
        if structural.height:
            problems = structural.select(
                pl.concat_str([pl.col("column"), pl.lit(": "), pl.col("check")])
            ).to_series()
            raise SchemaProblem("; ".join(problems.unique().sort().to_list())) from None
        return cases.select(
            pl.col("index").cast(pl.Int64).alias("position"),
            _check_message(pl.col("column"), pl.col("check")).alias("message"),
        )
    return pl.DataFrame(schema={"position": pl.Int64, "message": pl.String})


def _duplicate_messages(exams: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Exact duplicate rows (kept once) and exam ids repeated with different content.

    Returns the failure rows for conflicting ids and a boolean mask of rows that are exact
    copies of an earlier row (counted, not loaded twice).
    """
    content = pl.col(RAW)
    copy_of_earlier = exams.select(
        pl.struct(pl.col("exam_id"), content).is_first_distinct().not_()
        & pl.col("exam_id").is_not_null()
    ).to_series()
    firsts = exams.with_row_index("position").filter(~copy_of_earlier)
    conflicts = firsts.filter(
        pl.col("exam_id").is_not_null() & (pl.len().over("exam_id") > 1)
    ).select(
        pl.col("position").cast(pl.Int64),
        pl.format(
            "exam_id: appears {} times in this file with different content",
            pl.len().over("exam_id"),
        ).alias("message"),
    )
    return conflicts, copy_of_earlier


def split_valid(exams: pl.DataFrame) -> Split:
    """Validate parsed exams and split them into valid rows and quarantine rows.

    `exams` is the output of `parse_cells` + `derive_age_and_bmi` with `_raw` alongside.
    """
    conflicts, copy_of_earlier = _duplicate_messages(exams)
    parse_problems = (
        exams.with_row_index("position")
        .select(pl.col("position").cast(pl.Int64), pl.col(PARSE_ERRORS).alias("message"))
        .explode("message")
        .drop_nulls("message")
    )
    schema = schema_failures(exams)
    # "X: is required" after "X: is not a number" says nothing new: keep the parse reason.
    parsed_badly = parse_problems.select(
        "position", pl.col("message").str.extract(r"^([^:]+):", 1).alias("column")
    )
    schema = schema.with_columns(
        pl.col("message").str.extract(r"^([^:]+): is required$", 1).alias("column")
    ).join(parsed_badly, on=["position", "column"], how="anti").drop("column")
    failures = pl.concat([parse_problems, schema, conflicts])
    # A failing exact copy is reported once, on its first row.
    failures = failures.join(
        copy_of_earlier.arg_true().cast(pl.Int64).to_frame("position"), on="position", how="anti"
    )
    per_row = failures.unique().group_by("position").agg(
        pl.col("message").sort().str.join("; ").alias("errors")
    )
    indexed = exams.with_row_index("position").with_columns(pl.col("position").cast(pl.Int64))
    bad = indexed.join(per_row, on="position", how="inner").sort("position")
    quarantine = bad.select(
        pl.col(ROW_NUMBER).alias("row_number"),
        pl.col("exam_id"),
        pl.col("errors"),
        pl.col(RAW).alias("raw"),
    )
    keep = indexed.filter(~copy_of_earlier).join(per_row, on="position", how="anti")
    valid = keep.sort("position").drop("position", PARSE_ERRORS)
    return Split(valid=valid, quarantine=quarantine, rows_duplicate=int(copy_of_earlier.sum()))
