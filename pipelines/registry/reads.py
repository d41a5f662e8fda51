"""What the loader reads from the registry: overlap with a batch, conflicts, history.

Each query reads only what the batch touches (its exam ids, its patients), never the
whole registry, so a nightly increment costs the same into a small or a large registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.ingest.prepare import Batch
from pipelines.registry.staging import REGISTRY
from pipelines.registry.store import arrow_of, query
from schemas.columns import CANONICAL_COLUMNS
from schemas.reasons import quarantine_rows, reason_expr
from transforms.columns import ROW_NUMBER
from transforms.measurements import SERIAL_EXAM_COLUMNS, serial_input
from transforms.serial import with_other_exams

EXAM_COLUMNS = list(CANONICAL_COLUMNS)


def _registry_twins(con: duckdb.DuckDBPyConnection, valid: pl.DataFrame) -> pl.DataFrame:
    """The registry's exams (canonical columns) whose ids this batch also carries."""
    con.register("incoming_ids", arrow_of(valid.select("exam_id")))
    try:
        return query(
            con,
            f"SELECT {', '.join('e.' + c for c in EXAM_COLUMNS)} FROM exams e"
            " SEMI JOIN incoming_ids i USING (exam_id)",
        )
    finally:
        con.unregister("incoming_ids")


@dataclass
class RegistryOverlap:
    """Exams of a batch that the registry already holds (loaded from another input)."""

    identical: pl.DataFrame  # exam_id: the same exam sent again: counted as a duplicate
    conflicting: pl.DataFrame  # exam_id, _row_number: other content: quarantined


def registry_overlap(con: duckdb.DuckDBPyConnection, valid: pl.DataFrame) -> RegistryOverlap:
    """Split the batch's already-registered exam ids into identical resends and conflicts.

    Registries often receive cumulative exports: the same exam, unchanged, in every
    night's file. That is a duplicate, not a problem. The same id with other content is
    never overwritten silently: it is quarantined for a person to decide.
    """
    twins = _registry_twins(con, valid)
    if twins.height == 0:
        empty = valid.select("exam_id", ROW_NUMBER).clear()
        return RegistryOverlap(empty.select("exam_id"), empty)
    both = valid.select(ROW_NUMBER, *EXAM_COLUMNS).join(
        twins, on="exam_id", how="inner", suffix="_registry"
    )
    same = pl.all_horizontal(
        pl.col(c).eq_missing(pl.col(f"{c}_registry")) for c in EXAM_COLUMNS if c != "exam_id"
    )
    both = both.with_columns(same.alias("_same"))
    return RegistryOverlap(
        identical=both.filter("_same").select("exam_id"),
        conflicting=both.filter(~pl.col("_same")).select("exam_id", ROW_NUMBER),
    )


def registry_conflicts(batch: Batch, conflicting: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows for exams whose id the registry holds with other content."""
    raw = batch.raw_of(conflicting.get_column(ROW_NUMBER))
    rows = conflicting.rename({ROW_NUMBER: "row_number"}).join(
        raw, on="row_number", how="left"
    ).sort("row_number")
    reasons = rows.select("row_number", reason_expr("REGISTRY_ID_CONFLICT", "exam_id")
                          .alias("reason")).unnest("reason")
    return quarantine_rows(reasons, rows)


def patient_history(
    con: duckdb.DuckDBPyConnection,
    patients: pl.DataFrame,
    sources: tuple[str, ...] = REGISTRY.history,
) -> pl.DataFrame:
    """Earlier exams of the batch's patients only (never the whole registry).

    `sources`: the exams tables that hold history: the registry's, and the staging table
    of earlier batches of the same file. One row per exam with SERIAL_EXAM_COLUMNS (the
    BMD and region columns only), reshaped to sites by `serial_input`: cheaper than reading the
    `measurements` view.
    """
    # repeated ids are fine for a semi join: no unique() pass over a million ids
    con.register("batch_patients", arrow_of(patients.select("patient_id")))
    columns = ", ".join(f"e.{c}" for c in SERIAL_EXAM_COLUMNS)
    try:
        return query(
            con,
            " UNION ALL ".join(
                f"SELECT {columns} FROM {table} e SEMI JOIN batch_patients b USING (patient_id)"
                for table in sources
            ),
        )
    finally:
        con.unregister("batch_patients")


def serial_frames(
    valid: pl.DataFrame, history: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(batch, history) one row per exam and site with a BMD, as `compare_serial` takes
    them; batch exams of patients with no other exam are left out (`with_other_exams`)."""
    batch = with_other_exams(valid.select(SERIAL_EXAM_COLUMNS), history)
    return serial_input(batch), serial_input(history)

