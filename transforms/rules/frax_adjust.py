"""FRAX adjustments (clinical-rules.md section 4a): what the FRAX treatment lines read.

The recorded FRAX stays in `exams` untouched; the lines read `frax_major_adjusted` and
`frax_hip_adjusted`, which the assessment stores. The adjustments are the published rules
of thumb of ISCD/IOF 2011 (valid where the recorded FRAX was computed with glucocorticoids
ticked and without BMD-site corrections), not a FRAX calculation: they multiply, only ever
raise a probability, and apply on the WHO basis only. An adjustment's ID is a reason only
where it changed a recorded, non-null value.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.cuts import at_cut
from transforms.rules.declare import Rule
from transforms.rules.names import WHO_OK, fired, fired_col, site_ok
from transforms.rules.ruleset import Ruleset

ISCD_IOF_FRAX = "ISCD/IOF FRAX positions 2011"
_RULE_OF_THUMB = (
    "Decision support: the published rules of thumb, not a FRAX calculation; valid where "
    "the recorded FRAX was computed with glucocorticoids ticked and without BMD-site "
    "corrections."
)
RULES: tuple[Rule, ...] = (
    Rule(
        "FRAX-ADJ-GLUCOCORTICOID", "frax",
        "WHO basis, RF-GLUCOCORTICOID (dose and duration at or above the risk thresholds): "
        "frax_major_adjusted = recorded major x glucocorticoid_major_factor, "
        "frax_hip_adjusted = recorded hip x glucocorticoid_hip_factor. Adjustments "
        "multiply; an adjusted value is null where its recorded input is blank, and on "
        "any basis but WHO. The ID is a reason only where it changed a non-null value. "
        "The FRAX treatment lines and VHR-FRAX read the adjusted values.",
        ("frax_adjustment.glucocorticoid_major_factor",
         "frax_adjustment.glucocorticoid_hip_factor",
         "risk.glucocorticoid_mg_day", "risk.glucocorticoid_months"),
        f"Kanis et al. 2011 (Osteoporos Int); {ISCD_IOF_FRAX}",
        "Not covered by the article. ISCD/IOF 2011: adjust FRAX for the glucocorticoid "
        "dose (> 7.5 mg/day: major x 1.15, hip x 1.20).",
        caveat=_RULE_OF_THUMB,
    ),
    Rule(
        "FRAX-ADJ-SPINE-OFFSET", "frax",
        "WHO basis, a valid lumbar spine T-score lower than the femoral neck T-score by "
        "spine_offset_t or more (the difference rounded to 6 decimals): major x (1 + "
        "spine_offset_major_per_t x d), d the difference rounded half up to a whole "
        "number; hip unchanged. Applied upward only, a conservative choice (the source "
        "also lowers the major probability where the spine is higher).",
        ("frax_adjustment.spine_offset_t", "frax_adjustment.spine_offset_major_per_t"),
        f"Leslie et al. 2011 (Osteoporos Int); {ISCD_IOF_FRAX}",
        "Not covered by the article. ISCD/IOF 2011: adjust FRAX major by 10% per rounded "
        "T-score unit of spine-hip offset, up or down; here upward only.",
        caveat=_RULE_OF_THUMB,
    ),
)

#: Decimals the adjusted values are stored with (those a cut-off comparison reads).
ADJUSTED_DECIMALS = 6


def _spine_offset(ruleset: Ruleset) -> tuple[pl.Expr, pl.Expr]:
    """(FRAX-ADJ-SPINE-OFFSET applies, its major factor) of each exam."""
    a = ruleset.frax_adjustment
    spine_t = pl.when(pl.col(site_ok("spine"))).then(pl.col("spine_t"))
    offset = at_cut(pl.col("femoral_neck_t") - spine_t)
    applies = (offset >= a.spine_offset_t).fill_null(False)
    whole = (offset + 0.5).floor()  # round half up (offset is positive where it applies)
    return applies, pl.when(applies).then(1 + a.spine_offset_major_per_t * whole).otherwise(1.0)


def adjusted_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """frax_major_adjusted, frax_hip_adjusted and the fired columns of FRAX-ADJ-*."""
    a = ruleset.frax_adjustment
    who = pl.col(WHO_OK)
    major, hip = pl.col("frax_major_pct"), pl.col("frax_hip_pct")
    steroid = fired_col("RF-GLUCOCORTICOID")
    offset, offset_factor = _spine_offset(ruleset)
    steroid_major = pl.when(steroid).then(a.glucocorticoid_major_factor).otherwise(1.0)
    steroid_hip = pl.when(steroid).then(a.glucocorticoid_hip_factor).otherwise(1.0)
    # A factor of 1 or a recorded 0 changes nothing: the ID is a reason only where it did.
    major_moves, hip_moves = (major != 0).fill_null(False), (hip != 0).fill_null(False)
    return [
        pl.when(who).then((major * steroid_major * offset_factor).round(ADJUSTED_DECIMALS))
        .alias("frax_major_adjusted"),
        pl.when(who).then((hip * steroid_hip).round(ADJUSTED_DECIMALS))
        .alias("frax_hip_adjusted"),
        (who & steroid & (
            (major_moves & (a.glucocorticoid_major_factor != 1))
            | (hip_moves & (a.glucocorticoid_hip_factor != 1))
        )).alias(fired("FRAX-ADJ-GLUCOCORTICOID")),
        (who & offset & major_moves & (a.spine_offset_major_per_t != 0))
        .alias(fired("FRAX-ADJ-SPINE-OFFSET")),
    ]
