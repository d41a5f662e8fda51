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

from schemas.errors import DxaError
from schemas.exam import CanonicalExam
from transforms.columns import PARSE_ERRORS, ROW_NUMBER, ROW_PROBLEM
from transforms.read_csv import raw_rows

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


class SchemaProblem(DxaError):
    """A structural schema failure (missing column, wrong dtype): a bug or a bad adapter."""


@dataclass
class Split:
    """The outcome of validating one file's rows (or one batch of them).

    `cells` is the text the valid rows came from (aligned by `_row_number`), kept so
    that a row refused later (at load: its exam id is already in the registry) can still
    be quarantined with the raw row as read.
    """

    valid: pl.DataFrame
    quarantine: pl.DataFrame  # QUARANTINE_COLUMNS
    rows_duplicate: int
    cells: pl.DataFrame | None = None

    @property
    def rows_loaded(self) -> int:
        return self.valid.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height

    def raw_of(self, row_numbers: pl.Series) -> pl.DataFrame:
        """(row_number, raw) of the given valid rows, from the text they were read from."""
        if self.cells is None:
            return pl.DataFrame(schema={"row_number": pl.Int64, "raw": pl.String})
        rows = self.cells.filter(pl.col(ROW_NUMBER).is_in(row_numbers.implode()))
        return rows.select(pl.col(ROW_NUMBER).alias("row_number"),
                           raw_rows(rows).alias("raw"))


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


#: Schema of duplicate verdicts: rows whose exam id occurs more than once in the file.
VERDICT_SCHEMA = {ROW_NUMBER: pl.Int64, "copy": pl.Boolean, "message": pl.String}


#: The exam id as parsed (stripped, null tokens as null): what duplicates are keyed on.
EXAM_KEY = "_exam_key"


def shared_exam_ids(exam_key: pl.Series) -> pl.Series:
    """Mask of rows whose (non-null) parsed exam id occurs more than once."""
    key = pl.col("key")
    distinct, nulls = exam_key.to_frame("key").select(
        key.n_unique().alias("distinct"), key.null_count().alias("nulls")
    ).row(0)
    if distinct - (nulls > 0) == exam_key.len() - nulls:  # the usual file: ~4x cheaper
        return pl.repeat(False, exam_key.len(), dtype=pl.Boolean, eager=True)
    return exam_key.is_duplicated() & exam_key.is_not_null()


def duplicate_candidates(cells: pl.DataFrame, exam_key: pl.Series) -> pl.DataFrame:
    """Rows whose (non-null) parsed exam id occurs more than once, with that id as key."""
    shared = shared_exam_ids(exam_key)
    return cells.filter(shared).with_columns(exam_key.filter(shared).alias(EXAM_KEY))


def duplicate_verdicts(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exact copies and conflicting contents among rows that share an exam id.

    `candidates` are the text cells, plus `_exam_key`, of every row of a file whose exam
    id occurs more than once (usually a handful). A row identical to an earlier row is a
    `copy`: loaded once, counted as a duplicate. If an id still has several distinct
    contents, each of them gets a conflict `message` and is quarantined, since none can
    be trusted.
    """
    if candidates.height == 0:
        return pl.DataFrame(schema=VERDICT_SCHEMA)
    ordered = candidates.sort(ROW_NUMBER)
    copy = ordered.select(
        pl.struct(pl.col(EXAM_KEY), raw_rows(ordered)).is_first_distinct().not_()
    ).to_series()
    distinct = pl.len().over(EXAM_KEY)
    conflicts = ordered.filter(~copy).filter(distinct > 1).select(
        ROW_NUMBER,
        pl.lit(False).alias("copy"),
        pl.format("exam_id: appears {} times in this file with different content", distinct)
        .alias("message"),
    )
    copies = ordered.filter(copy).select(
        ROW_NUMBER, pl.lit(True).alias("copy"), pl.lit(None, pl.String).alias("message")
    )
    return pl.concat([copies, conflicts]).cast(VERDICT_SCHEMA)


def _positions(frame: pl.DataFrame, row_numbers: pl.Series) -> pl.Series:
    """Boolean mask of `frame` rows whose `_row_number` is among `row_numbers`."""
    return frame.get_column(ROW_NUMBER).is_in(row_numbers.implode())


def split_valid(
    exams: pl.DataFrame, cells: pl.DataFrame, verdicts: pl.DataFrame | None = None
) -> Split:
    """Validate parsed exams and split them into valid rows and quarantine rows.

    `exams` is the output of `parse_cells` + `derive_age_and_bmi`; `cells` the text it
    came from (same rows, same order). `verdicts` are the file's duplicate verdicts when
    the file is read in batches (see `duplicate_verdicts`); without them they are worked
    out from these rows. Every row ends up valid, quarantined, or counted as a copy.
    """
    if verdicts is None:
        verdicts = duplicate_verdicts(duplicate_candidates(cells, exams.get_column("exam_id")))
    else:
        verdicts = verdicts.filter(_positions(verdicts, cells.get_column(ROW_NUMBER)))
    copies = verdicts.filter("copy").get_column(ROW_NUMBER)
    indexed = exams.with_row_index("position").with_columns(pl.col("position").cast(pl.Int64))
    row_of = indexed.select("position", ROW_NUMBER)
    parse_problems = (
        indexed.filter(pl.col(PARSE_ERRORS).list.len() > 0)
        .select("position", pl.col(PARSE_ERRORS).alias("message"))
        .explode("message")
    )
    if ROW_PROBLEM in cells.columns:
        shape = cells.with_row_index("position").filter(pl.col(ROW_PROBLEM).is_not_null())
        parse_problems = pl.concat([
            parse_problems,
            shape.select(pl.col("position").cast(pl.Int64), pl.col(ROW_PROBLEM).alias("message")),
        ])
    schema = schema_failures(exams.drop(PARSE_ERRORS))
    # "X: is required" after "X: is not a number" says nothing new: keep the parse reason.
    parsed_badly = parse_problems.select(
        "position", pl.col("message").str.extract(r"^([^:]+):", 1).alias("column")
    )
    schema = schema.with_columns(
        pl.col("message").str.extract(r"^([^:]+): is required$", 1).alias("column")
    ).join(parsed_badly, on=["position", "column"], how="anti").drop("column")
    conflicts = verdicts.filter(~pl.col("copy")).join(row_of, on=ROW_NUMBER).select(
        "position", "message"
    )
    failures = pl.concat([parse_problems, schema, conflicts])
    # A failing exact copy is reported once, on its first row.
    is_copy = _positions(exams, copies)
    copy_positions = indexed.get_column("position").filter(is_copy)
    failures = failures.filter(~pl.col("position").is_in(copy_positions.implode()))
    per_row = failures.unique().group_by("position").agg(
        pl.col("message").sort().str.join("; ").alias("errors")
    ).sort("position")
    bad_positions = per_row.get_column("position")
    is_bad = indexed.get_column("position").is_in(bad_positions.implode())
    bad_cells = cells.filter(is_bad)
    quarantine = pl.DataFrame(
        {
            "row_number": bad_cells.get_column(ROW_NUMBER),
            "exam_id": exams.filter(is_bad).get_column("exam_id"),
            "errors": per_row.get_column("errors"),
            "raw": bad_cells.select(raw_rows(bad_cells)).to_series(),
        }
    )
    valid = exams.filter(~is_bad & ~is_copy).drop(PARSE_ERRORS)
    return Split(valid=valid, quarantine=quarantine, rows_duplicate=int(is_copy.sum()),
                 cells=cells)
