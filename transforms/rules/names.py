"""Names of the intermediate columns the decision stages pass to one another.

Each stage adds columns to the frame and later stages read them by name, so every
condition is computed once. A rule's "did it fire" boolean is always `fired(ID)`.
Per-row stages only compute booleans and numbers; every text and list output is derived
from the fired bits in `outputs.py` (once per distinct combination, then joined), which is
what keeps deciding a million exams well under a second.
"""

from __future__ import annotations

import polars as pl


def fired(rule_id: str) -> str:
    """Column holding whether rule `rule_id` fired (never null)."""
    return f"_fired:{rule_id}"


def fired_col(rule_id: str) -> pl.Expr:
    """`pl.col(fired(rule_id))`."""
    return pl.col(fired(rule_id))


#: Diagnostic sites in the SITE-LOWEST tie-break order; the code of a site is its
#: position + 1 (0 = no site).
SITE_ORDER: tuple[str, ...] = ("spine", "total_hip", "femoral_neck", "radius_33")


def site_ok(site: str) -> str:
    """Column: the site is a valid diagnostic site for this exam."""
    return f"_ok_{site}"


MIN_T = "_min_t"  # lowest valid T-score
MIN_Z = "_min_z"  # lowest valid Z-score
SITE_T = "_site_t"  # code of the site of the lowest valid T (tie order SITE_ORDER)
SITE_Z = "_site_z"  # code of the site of the lowest valid Z
SITE = "_site"  # code of the diagnostic site actually used (0: none)
WHO_OK = "_who_ok"  # WHO basis with a diagnostic T-score
Z_OK = "_z_ok"  # Z basis with a diagnostic Z-score
NO_SITE = "_no_site"  # the basis needs a score but no valid site has one
LINE_LEVEL = "_line_level"  # code of the level the treatment lines set (before on-treatment)
LEVEL = "_level"  # code of the treatment (treatment.LEVEL_CODES)
TX_T = "_tx_t"  # the T-score the treatment lines read: own lowest valid, or HX-CENTRAL-SITE's


def tx_category(category: str) -> str:
    """Column: the WHO category the treatment lines see (from TX_T) is `category`."""
    return f"_tx_{category}"


CAROC = "_caroc"  # code of caroc_risk (caroc.CAROC_CODES; 0: not computed)
