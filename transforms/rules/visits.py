"""A visit: a patient's exams of one date, merged into one set of inputs (HX-SAME-DAY).

Why merged before anything is decided: a forearm row exported beside the hip scan of the
same day is the same visit, and must get the same decision (clinical-rules.md section
7a). Per site the lowest valid score of the day's rows; a yes in any row is yes (null
only where every row is blank); of numbers the highest; fracture sites united; the
one-third radius valid only where the visit as a whole lacks a valid spine or hip
(SITE-RADIUS, applied by `history`). One basis per visit: the highest age, the
menopausal status furthest along, the rows' sex.

Most visits are one row: those are taken as they are, and only the rows of several-row
visits are grouped (a million-row group-by of sixty aggregations costs seconds).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from schemas.columns import FRACTURE_SITES
from transforms.rules.caroc import REFERENCE_NECK_BMD, reference_neck_bmd
from transforms.rules.names import SITE_ORDER, fired, site_ok
from transforms.rules.patient_order import NEW_PATIENT, NEW_VISIT, VISIT_NO

CENTRAL_SITES = ("spine", "total_hip", "femoral_neck")
VISIT_BOOLEANS = ("prior_fragility_fracture", "vertebral_fracture", "parent_hip_fracture",
                  "current_smoker", "kyphosis", "back_pain", "on_treatment")
#: Numbers (and dates: the latest) merged by the highest.
VISIT_NUMBERS = ("glucocorticoid_mg_day", "glucocorticoid_months", "parent_hip_fracture_age",
                 "height_loss_cm", "alcohol_units_day", "frax_major_pct", "frax_hip_pct",
                 "bmi", "last_fracture_date", "treatment_start_date", "age_years")
#: BMDs merged by the lowest (CAROC reads a man's femoral neck BMD).
VISIT_BMDS = tuple(f"{site}_bmd" for site in SITE_ORDER)
#: Furthest along first; the status merged is the first of these any row records.
MENOPAUSE_ORDER = ("post", "peri", "pre", "unknown")
SITES_LIST = "prior_fracture_sites"
#: Bit of each fracture site code in the visit's site mask.
SITE_BIT = {code: 1 << i for i, code in enumerate(FRACTURE_SITES)}

_V = "_v_"  # prefix of a visit's merged value
_Agg = Callable[[pl.Expr], pl.Expr]


def v(name: str) -> str:
    """Column of the visit's merged `name`."""
    return f"{_V}{name}"


def site_mask(sites: pl.Expr) -> pl.Expr:
    """The fracture site codes of a list as a bit mask (UInt8; null list: 0)."""
    return pl.sum_horizontal(
        sites.list.contains(code).fill_null(False).cast(pl.UInt8) * bit
        for code, bit in SITE_BIT.items()).cast(pl.UInt8)


def _menopause_rank() -> pl.Expr:
    ranks = {s: len(MENOPAUSE_ORDER) - i for i, s in enumerate(MENOPAUSE_ORDER)}
    return pl.col("menopausal_status").replace_strict(ranks, default=None,
                                                      return_dtype=pl.UInt8)


def _contributions() -> list[tuple[str, pl.Expr, _Agg]]:
    """(name, the row's contribution, how a visit's rows combine)."""
    any_, low, high = (lambda e: e.any()), (lambda e: e.min()), (lambda e: e.max())
    parts = [("who", pl.col(fired("BASIS-WHO")), any_),
             ("spine_min2", pl.col(fired("SITE-SPINE-MIN2")), any_),
             (REFERENCE_NECK_BMD, reference_neck_bmd(), low)]
    for site in CENTRAL_SITES:
        ok = pl.col(site_ok(site))
        parts += [(f"ok_{site}", ok, any_)]
        parts += [(f"{site}_{s}", pl.when(ok).then(pl.col(f"{site}_{s}")), low)
                  for s in ("t", "z")]
    radius = pl.col("radius_33_t").is_not_null() | pl.col("radius_33_z").is_not_null()
    parts += [("has_radius_33", radius, any_)]
    parts += [(f"radius_33_{s}", pl.col(f"radius_33_{s}"), low) for s in ("t", "z")]
    parts += [(n, pl.col(n), high) for n in VISIT_BOOLEANS + VISIT_NUMBERS]
    parts += [(n, pl.col(n), low) for n in VISIT_BMDS]
    parts += [("sex", pl.col("sex"), low), ("menopause_rank", _menopause_rank(), high),
              ("sites_recorded", pl.col(SITES_LIST).is_not_null(), any_),
              ("sites", site_mask(pl.col(SITES_LIST)), lambda e: e.bitwise_or())]
    return parts


def _decoded() -> list[pl.Expr]:
    """The menopausal status back from its rank."""
    names = {len(MENOPAUSE_ORDER) - i: s for i, s in enumerate(MENOPAUSE_ORDER)}
    return [pl.col(v("menopause_rank")).replace_strict(names, default=None,
                                                       return_dtype=pl.String)
            .alias(v("menopausal_status"))]


def merged_visits(ordered: pl.LazyFrame) -> pl.LazyFrame:
    """One row per visit (in patient order, by `VISIT_NO`) with its merged inputs;
    `ordered` comes from `patient_order.patient_order`."""
    parts = _contributions()
    several = ~pl.col(NEW_VISIT) | ~pl.col(NEW_VISIT).shift(-1).fill_null(True)
    single = ordered.filter(~several).select(
        VISIT_NO, NEW_PATIENT, pl.lit(1, dtype=pl.UInt32).alias(v("rows")),
        *(expr.alias(v(name)) for name, expr, _ in parts))
    grouped = ordered.filter(several).group_by(VISIT_NO).agg(
        pl.col(NEW_PATIENT).first(), pl.len().alias(v("rows")),
        *(agg(expr).alias(v(name)) for name, expr, agg in parts))
    return (pl.concat([single, grouped], how="vertical_relaxed").sort(VISIT_NO)
            .with_columns(_decoded()))
