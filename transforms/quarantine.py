"""Split parsed exams into valid rows and quarantine rows, with every failed check named.

pandera runs the model with `lazy=True`; its failure cases (one per failed check and row)
become reason rows (`schemas.reasons`), together with the row-shape, parse and duplicate-id
reasons; `schemas.reasons.quarantine_rows` joins them into one quarantine row per row.
Rows are never dropped: each one ends up valid, quarantined, or counted as an exact
duplicate, and `Split.rows_*` prove it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.columns import COLUMNS
from schemas.errors import DxaError
from schemas.exam import CanonicalExam
from schemas.reasons import (
    QUARANTINE_SCHEMA,
    REASON_SCHEMA,
    REASON_STRUCT,
    REASONS,
    column_of,
    explode_reasons,
    no_reasons,
    quarantine_rows,
    reason_expr,
)
from transforms.columns import PARSE_ERRORS, RAW, ROW_NUMBER, ROW_PROBLEM
from transforms.parse import DERIVED_FROM
from transforms.tscore import REFERENCE_SITES, not_computed_column

#: Columns of a quarantine frame (the store adds run_id, file_sha256, source_format, path).
QUARANTINE_COLUMNS = tuple(QUARANTINE_SCHEMA)

#: Range checks: pandera check name -> the comparison shown with the bound.
_RANGE_OPS: dict[str, str] = {
    "greater_than": ">", "greater_than_or_equal_to": ">=",
    "less_than": "<", "less_than_or_equal_to": "<=",
}
#: pandera check name -> reason code (a range check's code says which side it failed).
_CHECK_CODES: dict[str, str] = {
    "not_nullable": "REQUIRED", "isin": "NOT_ALLOWED", "str_length": "EMPTY",
    "not_after": "DATE_AFTER", "not_before": "DATE_BEFORE",
    **{name: "BELOW_RANGE" if name.startswith("greater") else "ABOVE_RANGE"
       for name in _RANGE_OPS},
}


def raw_rows(cells: pl.DataFrame) -> pl.Expr:
    """The raw row as read, as JSON: `_raw` when the adapter gave one, else the cells.

    Evaluate it on the few rows that need it (quarantine): encoding every row of a large
    file would cost more than parsing it.
    """
    if RAW in cells.columns:
        return pl.col(RAW)
    source = [c for c in cells.columns if not c.startswith("_")]
    return pl.struct(source).struct.json_encode()


#: Date columns: below their range means too early.
_DATE_COLUMNS = [c.name for c in COLUMNS if c.kind == "date"]


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
        return raw_rows_of(self.cells, row_numbers)


def raw_rows_of(cells: pl.DataFrame | None, row_numbers: pl.Series) -> pl.DataFrame:
    """(row_number, raw) of the rows of `cells` with these row numbers (none: no cells)."""
    if cells is None:
        return pl.DataFrame(schema={"row_number": pl.Int64, "raw": pl.String})
    rows = cells.filter(pl.col(ROW_NUMBER).is_in(row_numbers.implode()))
    return rows.select(pl.col(ROW_NUMBER).alias("row_number"), raw_rows(rows).alias("raw"))


def _check_reasons(cases: pl.DataFrame) -> pl.DataFrame:
    """(position, column, code, message) of pandera's failure cases, worded by the catalog.

    Column checks are named by pandera (`less_than_or_equal_to(8.0)`); dataframe-level
    checks carry their reason code as their `error` (`schemas.exam`).
    """
    check = pl.col("check")
    name = check.str.extract(r"^([a-z_]+)", 1)
    bound = check.str.extract(r"\((.*)\)$", 1)
    code = pl.coalesce(name.replace_strict(_CHECK_CODES, default=None),
                       pl.when(check.is_in(list(REASONS))).then(check))
    framed = cases.with_columns(
        position=pl.col("index").cast(pl.Int64),
        code=pl.when((code == "BELOW_RANGE") & pl.col("column").is_in(_DATE_COLUMNS))
        .then(pl.lit("TOO_EARLY"))
        .otherwise(code),
        op=name.replace_strict(_RANGE_OPS, default=""),
        bound=bound,
    )
    unknown = framed.filter(pl.col("code").is_null())
    if unknown.height:
        raise SchemaProblem("; ".join(sorted(set(unknown.get_column("check").to_list()))))
    parts = [
        framed.filter(pl.col("code") == code).select(
            "position",
            reason_expr(code, column_of(code) or pl.col("column"), op=pl.col("op"),
                        bound=pl.col("bound")).alias("reason"),
        )
        for code in framed.get_column("code").unique().sort().to_list()
    ]
    return pl.concat(parts).unnest("reason") if parts else _no_position_reasons()


def _no_position_reasons() -> pl.DataFrame:
    schema = {"position": pl.Int64(), **{k: v for k, v in REASON_SCHEMA.items()
                                         if k != "row_number"}}
    return pl.DataFrame(schema=schema)


def schema_failures(exams: pl.DataFrame) -> pl.DataFrame:
    """Run the pandera model; return one reason (position, column, code, message) per
    failed check and row."""
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
        return _check_reasons(cases)
    return _no_position_reasons()


#: Schema of duplicate verdicts: rows whose exam id occurs more than once in the file.
VERDICT_SCHEMA = {ROW_NUMBER: pl.Int64, "copy": pl.Boolean, "reason": REASON_STRUCT}


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
    contents, each of them gets a conflict `reason` and is quarantined, since none can
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
        reason_expr("DUPLICATE_ID_CONFLICT", "exam_id", times=distinct).alias("reason"),
    )
    copies = ordered.filter(copy).select(
        ROW_NUMBER, pl.lit(True).alias("copy"), pl.lit(None, REASON_STRUCT).alias("reason")
    )
    return pl.concat([copies, conflicts]).cast(VERDICT_SCHEMA)


def _positions(frame: pl.DataFrame, row_numbers: pl.Series) -> pl.Series:
    """Boolean mask of `frame` rows whose `_row_number` is among `row_numbers`."""
    return frame.get_column(ROW_NUMBER).is_in(row_numbers.implode())


def _unparsed(parsed: pl.DataFrame, exams: pl.DataFrame) -> pl.DataFrame:
    """(row_number, column) left blank by a cell that did not parse: the cell's own column,
    and a column derived from it (`age_years` from `exam_date`) whose other sources are
    there, so that fixing the cell fills it. A derived column whose other source is
    blank stays required: fixing the cell alone would not fill it."""
    failed = parsed.select("row_number", "column")
    rows = exams.filter(pl.col(ROW_NUMBER).is_in(failed.get_column("row_number").implode()))
    derived = []
    for column, sources in DERIVED_FROM.items():
        did_not_parse = {
            source: pl.col(ROW_NUMBER).is_in(
                failed.filter(pl.col("column") == source).get_column("row_number").implode())
            for source in sources
        }
        blank_by_parse = pl.any_horizontal(did_not_parse.values()) & pl.all_horizontal(
            [pl.col(source).is_not_null() | did_not_parse[source] for source in sources])
        derived.append(rows.filter(blank_by_parse).select(
            pl.col(ROW_NUMBER).alias("row_number"), pl.lit(column).alias("column")))
    return pl.concat([failed, *derived])


def _row_reasons(
    exams: pl.DataFrame, cells: pl.DataFrame, verdicts: pl.DataFrame
) -> pl.DataFrame:
    """Every reason of every row (`REASON_SCHEMA`): row shape, parsing, the model, ids."""
    row_of = exams.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("position"),
                          pl.col(ROW_NUMBER).alias("row_number"))
    parsed = explode_reasons(
        exams.select(pl.col(ROW_NUMBER).alias("row_number"), PARSE_ERRORS), PARSE_ERRORS
    )
    if ROW_PROBLEM in cells.columns:
        shape = cells.filter(pl.col(ROW_PROBLEM).is_not_null()).select(
            pl.col(ROW_NUMBER).alias("row_number"), ROW_PROBLEM
        ).unnest(ROW_PROBLEM)
        parsed = pl.concat([parsed, shape])
    schema = schema_failures(exams.drop(PARSE_ERRORS)).join(row_of, on="position").drop(
        "position"
    ).select(*REASON_SCHEMA)
    # REQUIRED after a cell that did not parse says nothing new: keep the parse reason.
    required = schema.filter(pl.col("code") == "REQUIRED").join(
        _unparsed(parsed, exams), on=["row_number", "column"], how="semi"
    )
    schema = schema.join(required, on=list(REASON_SCHEMA), how="anti")
    conflicts = verdicts.filter(~pl.col("copy")).select(
        pl.col(ROW_NUMBER).alias("row_number"), "reason"
    )
    conflicts = conflicts.unnest("reason").select(*REASON_SCHEMA)
    not_computed = _not_computed_reasons(exams, schema)
    return pl.concat(
        [parsed, schema, conflicts, not_computed]).cast(REASON_SCHEMA)  # type: ignore[arg-type]


def _not_computed_reasons(exams: pl.DataFrame, schema: pl.DataFrame) -> pl.DataFrame:
    """T_SCORE_NOT_COMPUTED for each site of a NO_SCORED_SITE row whose BMD got no
    T-score (the T-score step's `_t_not_computed_<site>`): the fix is that site's
    manufacturer or T-score, which "no site has a score" alone would not say."""
    unscored = schema.filter(pl.col("code") == "NO_SCORED_SITE").get_column("row_number")
    rows = exams.filter(pl.col(ROW_NUMBER).is_in(unscored.implode()))
    parts = [
        rows.filter(pl.col(not_computed_column(site)).is_not_null()).select(
            pl.col(ROW_NUMBER).alias("row_number"),
            reason_expr("T_SCORE_NOT_COMPUTED", f"{site}_t",
                        why=pl.col(not_computed_column(site))).alias("reason"),
        ).unnest("reason")
        for site in REFERENCE_SITES
        if not_computed_column(site) in rows.columns
    ]
    return pl.concat(parts) if parts else no_reasons()


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
    reasons = _row_reasons(exams, cells, verdicts)
    # A failing exact copy is reported once, on its first row.
    reasons = reasons.filter(~pl.col("row_number").is_in(copies.implode()))
    is_copy = _positions(exams, copies)
    bad_rows = reasons.get_column("row_number").unique()
    is_bad = _positions(exams, bad_rows)
    bad_cells = cells.filter(is_bad)
    rows = pl.DataFrame({
        "row_number": bad_cells.get_column(ROW_NUMBER),
        "exam_id": exams.filter(is_bad).get_column("exam_id"),
        "raw": bad_cells.select(raw_rows(bad_cells)).to_series(),
    })
    quarantine = quarantine_rows(reasons, rows)
    valid = exams.filter(~is_bad & ~is_copy).drop(PARSE_ERRORS)
    return Split(valid=valid, quarantine=quarantine, rows_duplicate=int(is_copy.sum()),
                 cells=cells)
