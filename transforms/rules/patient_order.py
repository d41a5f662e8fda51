"""A frame in patient order, and questions about a patient's earlier rows without windows.

Why: the history rules (clinical-rules.md section 7a) ask, for every visit, "did an
earlier visit of this patient ...?". Asked with `over(patient_id)`, each question hashes
a million patient ids again (ten of them cost ~10 s on a million exams). Here the rows are
sorted once by patient, date and exam id, and each question is one global pass: a running
sum or forward fill, reset at the patient's first row.
"""

from __future__ import annotations

import polars as pl

PATIENT, DATE = "patient_id", "exam_date"
#: The row's place in the caller's frame, its visit's number (a patient's exams of one
#: date are one visit), and whether it opens a patient or a visit.
ROW, VISIT_NO = "_po_row", "_po_visit"
NEW_PATIENT, NEW_VISIT = "_po_new_patient", "_po_new_visit"
ORDER_COLUMNS = (ROW, VISIT_NO, NEW_PATIENT, NEW_VISIT)


def patient_order(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The rows sorted by patient, date and exam id, numbered by visit."""
    patient, date = pl.col(PATIENT), pl.col(DATE)
    return (
        rows.with_row_index(ROW).sort(PATIENT, DATE, "exam_id")
        .with_columns((patient != patient.shift(1)).fill_null(True).alias(NEW_PATIENT))
        .with_columns((pl.col(NEW_PATIENT) | (date != date.shift(1)).fill_null(True))
                      .alias(NEW_VISIT))
        .with_columns((pl.col(NEW_VISIT).cum_sum() - 1).cast(pl.UInt32).alias(VISIT_NO))
    )


def restore_order(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows back in the caller's order, without the patient-order columns."""
    return frame.sort(ROW).drop(*ORDER_COLUMNS)


def patient_start(index: pl.Expr) -> pl.Expr:
    """`index` at the row's patient's first row (frame in patient order)."""
    return pl.when(pl.col(NEW_PATIENT)).then(index).forward_fill()


def earlier(expr: pl.Expr) -> pl.Expr:
    """True where an earlier row of the same patient had `expr` (null counts as no)."""
    hits = expr.fill_null(False).cast(pl.UInt32)
    before = hits.cum_sum() - hits
    return (before - patient_start(before)) > 0


def so_far(expr: pl.Expr) -> pl.Expr:
    """True where this or an earlier row of the same patient had `expr`."""
    return earlier(expr) | expr.fill_null(False)


def previous(expr: pl.Expr) -> pl.Expr:
    """`expr` of the patient's previous row (null on the patient's first)."""
    return pl.when(~pl.col(NEW_PATIENT)).then(expr.shift(1))


def row_index() -> pl.Expr:
    return pl.int_range(pl.len(), dtype=pl.Int64)


def latest_earlier(value: pl.Expr, where: pl.Expr) -> pl.Expr:
    """`value` at the patient's latest earlier row where `where` holds, else null."""
    index = row_index()
    last = pl.when(where.fill_null(False)).then(index).forward_fill().shift(1)
    return pl.when(last >= patient_start(index)).then(value.gather(last.fill_null(0)))


def latest_earlier_visit(value: pl.Expr, where: pl.Expr) -> pl.Expr:
    """`value` at the patient's latest row where `where` holds, in an earlier visit than
    the row's (rows of one visit are not each other's history), else null."""
    index = row_index()
    last = pl.when(where.fill_null(False)).then(index).forward_fill()
    visit_start = pl.when(pl.col(NEW_VISIT)).then(index).forward_fill()
    before = last.gather((visit_start - 1).clip(lower_bound=0))
    known = (visit_start > 0) & (before >= patient_start(index))
    return pl.when(known).then(value.gather(before.fill_null(0)))
