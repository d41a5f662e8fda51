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


def _assessed(sources: tuple[str, ...], ruleset: str | None) -> tuple[str, list[str]]:
    """The `_assessed` column's SQL (and parameters): whether `ruleset` judged the exam,
    in the registry or in the staging tables of earlier batches."""
    if ruleset is None:
        return "", []
    tables = [source.removesuffix("exams") + "assessments" for source in sources]
    judged = " UNION ALL ".join(f"SELECT exam_id FROM {t} WHERE ruleset = ?" for t in tables)
    return f", e.exam_id IN ({judged}) AS _assessed", [ruleset] * len(tables)


def patient_history(
    con: duckdb.DuckDBPyConnection,
    patients: pl.DataFrame,
    sources: tuple[str, ...] = REGISTRY.history,
    ruleset: str | None = None,
) -> pl.DataFrame:
    """The exams of the batch's patients only (never the whole registry).

    `sources`: the exams tables that hold history: the registry's, and the staging table
    of earlier batches of the same file. One row per exam with the canonical columns:
    the rules read the patient's earlier exams (clinical-rules section 7a), the serial
    comparison their BMD and region columns (`serial_input`). With `ruleset`, `_assessed`
    says whether that ruleset has judged the exam (a back-fill judges it again).
    """
    # repeated ids are fine for a semi join: no unique() pass over a million ids
    con.register("batch_patients", arrow_of(patients.select("patient_id")))
    columns = ", ".join(f"e.{c}" for c in EXAM_COLUMNS)
    assessed, params = _assessed(sources, ruleset)
    try:
        return query(
            con,
            " UNION ALL ".join(
                f"SELECT {columns}{assessed} FROM {table} e"
                " SEMI JOIN batch_patients b USING (patient_id)"
                for table in sources
            ),
            params * len(sources),
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
