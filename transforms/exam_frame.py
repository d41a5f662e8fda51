"""From text cells to validated, typed exams: the one path every input format takes."""

from __future__ import annotations

import polars as pl

from transforms.implied import derive_implied
from transforms.parse import ParseOptions, derive_age_and_bmi, parse_cells
from transforms.quarantine import Split, split_valid
from transforms.tscore import TScorePolicy, apply_t_reference


def validate_cells(
    cells: pl.DataFrame,
    options: ParseOptions | None = None,
    verdicts: pl.DataFrame | None = None,
    tscores: TScorePolicy | None = None,
) -> Split:
    """Parse, derive age, BMI, the answers a row implies (a prior fracture from its sites
    or date, treatment from the drug; `transforms.implied`) and T-scores from BMD,
    validate; return valid exams and quarantine rows.

    `verdicts`: the file's duplicate verdicts when `cells` is one batch of a larger file.
    `tscores`: the T-score reference policy (`transforms.tscore`); None computes none.
    """
    typed = derive_implied(derive_age_and_bmi(parse_cells(cells, options)))
    if tscores is not None:
        typed = apply_t_reference(typed, tscores)
    return split_valid(typed, cells, verdicts)
