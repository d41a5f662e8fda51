"""From text cells to validated, typed exams: the one path every input format takes."""

from __future__ import annotations

import polars as pl

from transforms.parse import ParseOptions, derive_age_and_bmi, parse_cells
from transforms.quarantine import Split, split_valid


def validate_cells(
    cells: pl.DataFrame,
    options: ParseOptions | None = None,
    verdicts: pl.DataFrame | None = None,
) -> Split:
    """Parse, derive age and BMI, validate; return valid exams and quarantine rows.

    `verdicts`: the file's duplicate verdicts when `cells` is one batch of a larger file.
    """
    typed = derive_age_and_bmi(parse_cells(cells, options))
    return split_valid(typed, cells, verdicts)
