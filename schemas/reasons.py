"""Every quarantine reason: its code and its wording, in one place.

Where does a quarantined row get its error text? Here. Each stage (reading a file's rows,
parsing cells, the pandera model, duplicate ids, the registry's own ids, the APEX
adapter, the NHANES adapter) finds its problems as *reason rows*, one per row and problem:

    row_number, column, code, message

`code` is a key of `REASONS` (stable, counted by `v_data_quality`); `message` is that
code's wording with its parameters filled in (`spine_t: is not a number`); `column` is
what the message is about (a canonical column, `row`, or an APEX table). Messages name
columns, tables and rows, never a cell's value (values may identify a patient); the one
exception, the APEX BONERANGE, is a code of the scanner software, not patient data.

Only `quarantine_rows` joins the messages of one row into the `errors` text that users
read (and the store writes), beside the list `reason_codes`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Final

import polars as pl


@dataclass(frozen=True)
class Reason:
    """One kind of quarantine reason. `wording` is a `str.format` template whose fields
    are filled per row (`column` always; other fields as the code needs)."""

    code: str
    wording: str
    why: str
    #: the subject of a reason that is always about the same thing (a frame-level check)
    column: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.wording) if f)


def _about_column(code: str, wording: str, why: str, column: str | None = None) -> Reason:
    """A reason about a column (or a row's shape): its message starts with the column."""
    return Reason(code, "{column}: " + wording, why, column)


def _about_rows(code: str, wording: str, why: str) -> Reason:
    """An adapter's reason about table rows: its message starts with where they are
    (`table_row` / `table_rows`)."""
    return Reason(code, "{where}: " + wording, why)


_CATALOG: tuple[Reason, ...] = (
    # --- the shape of a row (reading the file) --------------------------------------------
    _about_column("TRUNCATED_ROW", "has {fields} fields, the header has {width} "
           "(a truncated row)", "fewer fields than the header: loading it would pad blanks"),
    # --- cells that do not parse (transforms.parse) ---------------------------------------
    _about_column("NOT_A_NUMBER", "is not a number", "a number column's text"),
    _about_column("NOT_A_WHOLE_NUMBER", "is not a whole number", "an integer column"),
    _about_column("NOT_A_BOOLEAN", "is not a boolean (true/false, yes/no, y/n, 1/0)",
           "a boolean column's text is none of the contract's spellings"),
    _about_column("UNKNOWN_CODE", "holds a code that is not one of {allowed}",
           "a list of codes holds one outside its vocabulary"),
    _about_column("NOT_A_DATE", "is not a real date in the form {date_format}{hint}",
           "dates are never guessed: ISO, or the operator's --date-format (the hint, "
           "`date_hint`, names the option that would read the cell, never its text)"),
    # --- the pandera model (schemas.exam) -------------------------------------------------
    _about_column("REQUIRED", "is required", "a required value is blank"),
    _about_column("NOT_ALLOWED", "is not one of the allowed values",
           "a value outside the column's vocabulary"),
    _about_column("EMPTY", "is empty", "a required text is empty"),
    _about_column("BELOW_RANGE", "is below its plausible range (must be {op} {bound})",
           "below the column's plausible range"),
    _about_column("ABOVE_RANGE", "is above its plausible range (must be {op} {bound})",
           "above the column's plausible range"),
    _about_column("TOO_EARLY", "is before {bound}, the earliest plausible date",
           "a date before its plausible range (schemas.columns: EARLIEST_*_DATE)"),
    _about_column("EXAM_DATE_IN_FUTURE", "must not be in the future",
           "an exam cannot have happened after today", "exam_date"),
    _about_column("BIRTH_AFTER_EXAM", "must be before exam_date",
           "a patient is born before being scanned", "birth_date"),
    _about_column("FRACTURE_SITES_CONTRADICT", "lists fracture sites but "
           "prior_fragility_fracture is no", "a listed site is a prior fracture",
           "prior_fracture_sites"),
    _about_column("DATE_AFTER", "must not be after {bound}",
           "a date of the exam's history cannot follow the exam (the same day can)"),
    _about_column("DATE_BEFORE", "must not be before {bound}",
           "a date of the patient's history cannot precede the patient's birth"),
    _about_column("TREATMENT_DRUG_CONTRADICTS", "names a drug but on_treatment is no",
           "a drug taken now is treatment", "treatment_drug"),
    _about_column("DRUG_HOLIDAY_CONTRADICTS", "is drug_holiday but on_treatment is yes",
           "a planned pause is not treatment (no drug named: no other drug is known)",
           "treatment_drug"),
    _about_column("FRACTURE_DATE_CONTRADICTS", "gives a date but prior_fragility_fracture "
           "is no", "a dated fragility fracture is a prior fracture", "last_fracture_date"),
    _about_column("NO_SCORED_SITE", "no site has a T-score or a Z-score",
           "an exam without any score cannot be assessed", "scores"),
    _about_column("T_SCORE_NOT_COMPUTED", "not computed from the BMD: {why}",
           "beside NO_SCORED_SITE: a BMD whose T-score the reference may not give "
           "(clinical-rules.md TSCORE-FROM-BMD), so the row says which site to fix"),
    # --- exam ids (transforms.quarantine, pipelines.ingest.load) ---------------------------------
    _about_column("DUPLICATE_ID_CONFLICT", "appears {times} times in this file with "
           "different content", "the same exam id with different content: none is trusted"),
    _about_column("REGISTRY_ID_CONFLICT", "already in the registry from another input, "
           "with other content", "never overwritten silently: a person decides"),
    # --- the APEX adapter (sources.apex); `column` is the table, `where` its row(s) --------
    _about_rows("APEX_MISSING_VALUE", "no {field}", "a key or required value is blank"),
    _about_rows("APEX_UNREADABLE_DATE", "unreadable {field}", "a date that is no date"),
    _about_rows("APEX_NO_SCAN", "no ScanAnalysis row for its {field}",
           "a measurement or reference row links to no scan"),
    _about_rows("APEX_NO_PATIENT", "no Patient row for its PATIENT_KEY",
           "a scan whose patient is not in Patient"),
    _about_rows("APEX_NO_MEASUREMENT", "no {other} row for this scan",
           "a scan without its measurement row"),
    _about_rows("APEX_CONFLICTING_ROWS", "conflicting {what}",
           "differing rows for one key: no silent winner"),
    _about_rows("APEX_WRONG_SCAN_KIND", "linked to a {kind} scan",
           "a measurement row linked to a scan of another kind"),
    _about_rows("APEX_AMBIGUOUS_SCANID", "SCANID shared by scans of several patients "
           "and {other} has no PATIENT_KEY", "a SCANID-only link that is ambiguous"),
    _about_rows("APEX_UNKNOWN_BONERANGE", "unknown BONERANGE '{bonerange}'",
           "a region code the adapter does not know"),
    _about_rows("APEX_SPINE_RANGE_TIE", "several spine BONERANGEs of the same width",
           "two spine results, neither wider"),
    _about_rows("APEX_UNORDERED_REPEATS", "repeated {kind} scans that cannot be "
           "ordered (same SCAN_DATE and ANALYSIS_DATE)", "no later scan to keep"),
    # --- the NHANES adapter (sources.nhanes) ------------------------------------------------
    _about_rows("NHANES_NO_DEMOGRAPHICS", "no DEMO row for its SEQN",
           "a DXA participant without demographics (age, sex) cannot be assessed"),
)

#: code -> Reason: the catalog of every quarantine reason.
REASONS: Final[dict[str, Reason]] = {r.code: r for r in _CATALOG}

#: A reason row: which row, about what, which code, and the message users read.
REASON_SCHEMA: Final[dict[str, pl.DataType]] = {
    "row_number": pl.Int64(),
    "column": pl.String(),
    "code": pl.String(),
    "message": pl.String(),
}

#: One reason as a polars struct (a cell of a list of reasons, e.g. `_parse_errors`).
REASON_STRUCT: Final = pl.Struct({k: v for k, v in REASON_SCHEMA.items() if k != "row_number"})

#: A quarantine frame, as every stage hands it on (the store adds run, file and path).
QUARANTINE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "row_number": pl.Int64(),
    "exam_id": pl.String(),
    "errors": pl.String(),
    "reason_codes": pl.List(pl.String()),
    "raw": pl.String(),
}

_FIELD = re.compile(r"\{([a-z_]+)\}")

#: A field's value: an expression, a series (one value per row) or a literal.
Value = pl.Expr | pl.Series | str | int


#: strptime fields as people write a date's form (`%Y-%m-%d` -> `YYYY-MM-DD`).
_DATE_FORM = {"%Y": "YYYY", "%m": "MM", "%d": "DD"}


def date_form(strptime: str) -> str:
    """A strptime format as users read it: `%d/%m/%Y` -> `DD/MM/YYYY`."""
    for directive, form in _DATE_FORM.items():
        strptime = strptime.replace(directive, form)
    return strptime


def date_hint(readings: tuple[tuple[str | None, str], ...]) -> str:
    """NOT_A_DATE's `{hint}`: the other forms a cell reads as, and the option for them.

    `readings`: (`--date-format` value, strptime format) of each form the cell's text is a
    real date in (None: ISO, read without the option). Empty: no hint. The hint names
    forms and options only, never the cell's text (a date may identify a patient).
    """
    if not readings:
        return ""
    forms = " or ".join(date_form(strptime) for _, strptime in readings)
    options = [option for option, _ in readings if option]
    if not options:
        return f" (it reads as {forms}: leave out --date-format)"
    return f" (it reads as {forms}: try --date-format {' or '.join(options)})"


def column_of(code: str) -> str | None:
    """The fixed subject of a frame-level reason (None: the caller names the column)."""
    return REASONS[code].column


def message(code: str, **values: object) -> str:
    """The wording of `code` with its fields filled (plain values)."""
    return REASONS[code].wording.format(**values)


def message_expr(code: str, **values: Value) -> pl.Expr:
    """The wording of `code` as a polars expression; fields are expressions or literals."""
    wording = REASONS[code].wording
    parts = _FIELD.split(wording)
    template = "".join("{}" if i % 2 else part.replace("{", "{{").replace("}", "}}")
                       for i, part in enumerate(parts))
    fields = parts[1::2]
    missing = [f for f in fields if f not in values]
    if missing:
        raise KeyError(f"reason {code} needs {', '.join(missing)}")
    return pl.format(template, *[_as_expr(values[f]) for f in fields])


def _as_expr(value: Value) -> pl.Expr:
    if isinstance(value, pl.Expr):
        return value
    return pl.lit(value) if isinstance(value, pl.Series) else pl.lit(str(value))


def reason_expr(code: str, column: pl.Expr | str, **values: Value) -> pl.Expr:
    """One reason (column, code, message) as a struct expression (`REASON_STRUCT`)."""
    column_expr = _as_expr(column)
    return pl.struct(
        column_expr.alias("column"),
        pl.lit(code).alias("code"),
        message_expr(code, column=column_expr, **values).alias("message"),
    )


def table_row(table: str, row: pl.Expr) -> pl.Expr:
    """`ScanAnalysis row 4`: where an adapter's reason is, without key or identifier
    values (messages reach summaries and screens)."""
    return pl.format("{} row {}", pl.lit(table), row)


def table_rows(table: str, rows: pl.Expr) -> pl.Expr:
    """`Spine row 4` / `Spine rows 4, 9` from a list of row numbers."""
    text = rows.list.sort().list.eval(pl.element().cast(pl.String)).list.join(", ")
    return (
        pl.when(rows.list.len() == 1)
        .then(pl.format("{} row {}", pl.lit(table), text))
        .otherwise(pl.format("{} rows {}", pl.lit(table), text))
    )


def no_reasons() -> pl.DataFrame:
    return pl.DataFrame(schema=REASON_SCHEMA)


def no_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def explode_reasons(frame: pl.DataFrame, reasons: str) -> pl.DataFrame:
    """Reason rows from a frame with `row_number` and a list-of-reasons column."""
    return (
        frame.select("row_number", pl.col(reasons))
        .filter(pl.col(reasons).list.len() > 0)
        .explode(reasons)
        .drop_nulls(reasons)
        .unnest(reasons)
        .cast(REASON_SCHEMA)  # type: ignore[arg-type]
    )


def quarantine_rows(
    reasons: pl.DataFrame, rows: pl.DataFrame, *, order: str = "message"
) -> pl.DataFrame:
    """One quarantine row per row with reasons: the text users read is joined here only.

    `reasons`: reason rows (`REASON_SCHEMA`); `rows`: `row_number`, `exam_id`, `raw` of
    the rows concerned. A reason given twice for a row counts once. `order="message"`
    sorts a row's messages (the canonical path), `"given"` keeps the order they came in
    (an adapter that lists a unit's problems as it found them). `reason_codes` lists the
    codes in the order of the messages.
    """
    distinct = reasons.unique(maintain_order=True)
    if order == "message":
        distinct = distinct.sort("row_number", "message", maintain_order=True)
    per_row = distinct.group_by("row_number", maintain_order=True).agg(
        pl.col("message").str.join("; ").alias("errors"),
        pl.col("code").alias("reason_codes"),
    )
    out = rows.join(per_row, on="row_number", how="inner", maintain_order="left")
    return out.select(*QUARANTINE_SCHEMA).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
