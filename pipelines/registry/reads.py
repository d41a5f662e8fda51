"""What the loader reads from the registry: overlap with a batch, conflicts, history.

Each query reads only what the batch touches (its exam ids, its patients), never the
whole registry, so a nightly increment costs the same into a small or a large registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.registry.staging import REGISTRY
from pipelines.registry.store import arrow_of, query
from schemas.columns import CANONICAL_COLUMNS
from transforms.columns import ROW_NUMBER
from transforms.measurements import SERIAL_EXAM_COLUMNS
from transforms.treatment_course import COURSE_HISTORY_COLUMNS

EXAM_COLUMNS = list(CANONICAL_COLUMNS)
#: What the loader reads of the patients' earlier exams: serial comparison's columns and
#: the fractures the treatment-course flags look back on.
HISTORY_COLUMNS = tuple(dict.fromkeys((*SERIAL_EXAM_COLUMNS, *COURSE_HISTORY_COLUMNS)))


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


def patient_history(
    con: duckdb.DuckDBPyConnection,
    patients: pl.DataFrame,
    sources: tuple[str, ...] = REGISTRY.history,
) -> pl.DataFrame:
    """Earlier exams of the batch's patients only (never the whole registry).

    `sources`: the exams tables that hold history: the registry's, and the staging table
    of earlier batches of the same file. One row per exam with HISTORY_COLUMNS (the BMD,
    region and fracture columns only), reshaped to sites by `serial_input`: cheaper than
    reading the `measurements` view.
    """
    # repeated ids are fine for a semi join: no unique() pass over a million ids
    con.register("batch_patients", arrow_of(patients.select("patient_id")))
    columns = ", ".join(f"e.{c}" for c in HISTORY_COLUMNS)
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


def unassessed_exams(con: duckdb.DuckDBPyConnection, file_sha256: str,
                     ruleset: str) -> pl.DataFrame:
    """Exams of a loaded input that `ruleset` has not judged yet (canonical columns)."""
    return query(
        con,
        f"SELECT {', '.join(EXAM_COLUMNS)} FROM exams WHERE file_sha256 = ? AND exam_id NOT IN"
        " (SELECT exam_id FROM assessments WHERE ruleset = ?)",
        [file_sha256, ruleset],
    )
