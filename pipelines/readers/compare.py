"""`dxa compare`: how patients move between two rulesets, on each patient's latest exam.

The answer to "how many patients change treatment if we switch?" in one command: the
transition matrix of treatment levels and of WHO categories (counts of patients), each
cell with the rule IDs that fired under one ruleset and not the other (its top reasons).
Counts only leave the registry: no patient identifiers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.readers.reporting.model import Section, counts, section_from_frame, text
from pipelines.readers.spreadsheet_cells import neutralise
from pipelines.registry.rulesets import resolve_held
from pipelines.registry.scratch import scratch
from pipelines.registry.store import query
from schemas.errors import ConfigError

#: the matrices: dimension name -> (column under ruleset A, column under ruleset B)
DIMENSIONS = {"treatment": ("treatment_a", "treatment_b"), "who_category": ("who_a", "who_b")}
TOP_REASONS = 3


class UnknownComparison(ConfigError):
    """A ruleset to compare is not in the registry."""


def resolve_label(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    """`ID@VERSION` as given, or the highest version of `ID` that assessed exams here
    (the registry's one rule: `resolve_held`)."""
    return resolve_held(con, ref, UnknownComparison)


@dataclass
class Comparison:
    """The two rulesets' labels and, per dimension, one row per (from, to) cell."""

    ruleset_a: str
    ruleset_b: str
    as_of: dt.date
    patients: int
    cells: dict[str, pl.DataFrame]

    def changed(self, dimension: str) -> int:
        cells = self.cells[dimension]
        return int(cells.filter(pl.col("from") != pl.col("to"))["patients"].sum())


def _cells(con: duckdb.DuckDBPyConnection, col_a: str, col_b: str) -> pl.DataFrame:
    """Patients per (A value, B value) with the cell's most frequent differing rule IDs."""
    return query(con, f"""
        WITH cells AS (
            SELECT {col_a} AS "from", {col_b} AS "to", count(*) AS patients
            FROM compared GROUP BY ALL),
        reasons AS (
            SELECT {col_a} AS "from", {col_b} AS "to", reason, count(*) AS n
            FROM (SELECT {col_a}, {col_b}, unnest(reasons_differing) AS reason FROM compared)
            GROUP BY 1, 2, 3
            QUALIFY row_number() OVER (PARTITION BY "from", "to"
                                       ORDER BY n DESC, reason) <= {TOP_REASONS}),
        top AS (
            SELECT "from", "to", string_agg(reason || ' (' || n || ')', ', '
                                            ORDER BY n DESC, reason) AS top_reasons
            FROM reasons GROUP BY ALL)
        SELECT c."from", c."to", c.patients, coalesce(t.top_reasons, '') AS top_reasons
        FROM cells c LEFT JOIN top t ON t."from" = c."from" AND t."to" = c."to"
        ORDER BY c."from", c."to"
    """)


def compare_rulesets(con: duckdb.DuckDBPyConnection, ref_a: str, ref_b: str,
                     as_of: dt.date | None = None) -> Comparison:
    """Both matrices for the latest exam of each patient on or before `as_of`."""
    label_a, label_b = resolve_label(con, ref_a), resolve_label(con, ref_b)
    as_of = as_of or dt.date.max
    compared = ("SELECT treatment_a, treatment_b, who_a, who_b, reasons_differing"
                " FROM ruleset_comparison(?, ?, ?)")
    with scratch(con, "compared", compared, [label_a, label_b, as_of]):
        patients = con.execute("SELECT count(*) FROM compared").fetchall()[0][0]
        cells = {name: _cells(con, *cols) for name, cols in DIMENSIONS.items()}
    return Comparison(label_a, label_b, as_of, patients, cells)


def long_form(comparison: Comparison) -> pl.DataFrame:
    """Every cell of both matrices, one row each (what csv and json print)."""
    return pl.concat([
        cells.select(pl.lit(name).alias("dimension"),
                     pl.lit(comparison.ruleset_a).alias("ruleset_a"),
                     pl.lit(comparison.ruleset_b).alias("ruleset_b"), pl.all())
        for name, cells in comparison.cells.items()
    ])


def long_form_csv(comparison: Comparison) -> str:
    """`long_form` as CSV for spreadsheets: a text cell that would start a formula gets a
    leading `'` (`spreadsheet_cells`)."""
    return neutralise(long_form(comparison)).write_csv()


def matrix(cells: pl.DataFrame) -> pl.DataFrame:
    """Rows: the value under ruleset A; columns: under ruleset B; patients in each cell."""
    if cells.height == 0:
        return pl.DataFrame({"from": []}, schema={"from": pl.String})
    return (cells.pivot(on="to", index="from", values="patients", sort_columns=True)
            .fill_null(0).sort("from"))


def comparison_sections(comparison: Comparison) -> list[Section]:
    """What `dxa compare` prints, in the report model: per dimension its matrix (rows:
    ruleset A, columns: ruleset B), then the cells that change (if any) with their rule
    IDs."""
    corner = f"{comparison.ruleset_a} \\ {comparison.ruleset_b}"
    sections = []
    for name, cells in comparison.cells.items():
        grid = matrix(cells)
        sections.append(section_from_frame(
            grid, key=f"{name}_matrix",
            title=f"{name}: {comparison.changed(name):,} patients change",
            columns=[text("from", corner), *(counts(c, c) for c in grid.columns[1:])]))
        moved = cells.filter(pl.col("from") != pl.col("to")).with_columns(
            pl.when(pl.col("top_reasons") == "").then(pl.lit("no differing rule IDs"))
            .otherwise(pl.col("top_reasons")).alias("top_reasons"))
        if moved.height == 0:
            continue
        sections.append(section_from_frame(
            moved, key=f"{name}_changes", title=f"{name}: the cells that change",
            columns=[text("from"), text("to"), counts("patients"),
                     text("top_reasons", f"rule IDs that differ (top {TOP_REASONS})")]))
    return sections
