"""What `dxa compare` and `dxa rulesets --db` print: report-model sections (exact rows)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.cli.rulesets import _held_section
from pipelines.readers.compare import Comparison, comparison_sections
from pipelines.readers.reporting.render_text import section_table


def _cells(*rows: tuple[str, str, int, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"from": pl.String, "to": pl.String,
                                      "patients": pl.Int64, "top_reasons": pl.String},
                        orient="row")


def test_matrix_then_the_cells_that_change() -> None:
    comparison = Comparison("core-2025@3", "bhof-2022@3", dt.date.max, 1_205, {
        "treatment": _cells(("consider", "consider", 5, ""),
                            ("consider", "not_indicated", 1_200, "BHOF-LOW-RISK (1200)"),
                            ("not_indicated", "consider", 0, "")),
        "who_category": _cells(("normal", "normal", 1_205, "")),
    })
    matrix, changes, who = comparison_sections(comparison)
    assert matrix.title == "treatment: 1,200 patients change"
    assert [c.header for c in matrix.columns] == [
        "core-2025@3 \\ bhof-2022@3", "consider", "not_indicated"]
    assert matrix.rows == (("consider", 5, 1_200), ("not_indicated", 0, 0))
    assert changes.rows == (("consider", "not_indicated", 1_200, "BHOF-LOW-RISK (1200)"),
                            ("not_indicated", "consider", 0, "no differing rule IDs"))
    assert who.key == "who_category_matrix"  # no change in WHO category: no changes table
    assert section_table(matrix).columns[2].justify == "right"  # counts right-aligned


def test_held_rulesets_section() -> None:
    used = dt.datetime(2026, 1, 2, 3, 4, 5)
    held = pl.DataFrame({
        "ruleset": ["core-2025@3", "old@1"], "id": ["core-2025", "old"], "version": ["2", "1"],
        "sha256": ["ab" * 32, None], "exams_assessed": [12, 3],
        "first_used_at": [used, None], "last_used_at": [used, None], "primary": [True, False],
    })
    section = _held_section(held)
    assert [c.header for c in section.columns] == [
        "id", "version", "sha256", "exams assessed", "first used", "last used", "primary"]
    assert section.rows == (
        ("core-2025", "2", "ab" * 8, 12, used, used, True),
        ("old", "1", "(not recorded)", 3, None, None, False),
    )
