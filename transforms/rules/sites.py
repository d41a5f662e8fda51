"""Valid diagnostic sites and the lowest valid T and Z (clinical-rules.md section 2).

A site "has a result" when it carries a T-score or a Z-score; validity does not depend on
the basis, so WORKUP-LOW-Z can use the same valid sites at any age.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.declare import ISCD, Rule
from transforms.rules.names import MIN_T, MIN_Z, SITE_ORDER, SITE_T, SITE_Z, fired, site_ok
from transforms.rules.ruleset import Ruleset

RULES: tuple[Rule, ...] = (
    Rule(
        "SITE-LOWEST", "site",
        "The diagnostic T-score is the lowest T-score among the valid sites (left and "
        "right hip both count); ties go to spine, total hip, femoral neck, radius in that "
        "order. On the Z basis the same selection is applied to Z-scores and "
        "diagnostic_site is the site of the lowest valid Z. Fires whenever a diagnostic "
        "site is recorded. diagnostic_z_score always carries the lowest valid Z (any "
        "basis). Scores are used as reported, never re-rounded.",
        (), ISCD,
    ),
    Rule(
        "SITE-RADIUS", "site",
        "The 33% radius is a valid site only when the exam has no valid spine result, or "
        "no valid hip result (neither femoral neck nor total hip). A site has a result "
        "when it has a T- or Z-score. Fires when the radius is admitted as a valid site "
        "(at any basis).",
        (), ISCD,
    ),
    Rule(
        "SITE-SPINE-MIN2", "site",
        "A lumbar spine result (T- or Z-score) built on fewer than spine_min_vertebrae "
        "vertebrae is not valid for diagnosis; fires and flags SPINE_TOO_FEW_VERTEBRAE "
        "(warning). spine_vertebrae not recorded means 4 (L1-L4). Trochanter, Ward's area "
        "and single vertebrae are never diagnostic.",
        ("sites.spine_min_vertebrae",), ISCD,
    ),
)

#: spine_vertebrae not recorded means the full L1-L4 result.
DEFAULT_VERTEBRAE = 4


def _has_score(site: str) -> pl.Expr:
    return pl.col(f"{site}_t").is_not_null() | pl.col(f"{site}_z").is_not_null()


def validity_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Per-site validity and the fired columns of SITE-SPINE-MIN2 and SITE-RADIUS."""
    vertebrae = pl.col("spine_vertebrae").fill_null(DEFAULT_VERTEBRAE)
    enough = vertebrae >= ruleset.sites.spine_min_vertebrae
    spine = _has_score("spine")
    spine_ok = spine & enough
    hip_ok = _has_score("total_hip") | _has_score("femoral_neck")
    radius_ok = _has_score("radius_33") & (~spine_ok | ~hip_ok)
    return [
        spine_ok.alias(site_ok("spine")),
        _has_score("total_hip").alias(site_ok("total_hip")),
        _has_score("femoral_neck").alias(site_ok("femoral_neck")),
        radius_ok.alias(site_ok("radius_33")),
        (spine & ~enough).alias(fired("SITE-SPINE-MIN2")),
        radius_ok.alias(fired("SITE-RADIUS")),
    ]


def _valid(site: str, score: str) -> pl.Expr:
    return pl.when(pl.col(site_ok(site))).then(pl.col(f"{site}_{score}"))


def lowest_stage() -> list[pl.Expr]:
    """Lowest valid T and Z over the valid sites (nulls ignored)."""
    return [
        pl.min_horizontal([_valid(s, "t") for s in SITE_ORDER]).alias(MIN_T),
        pl.min_horizontal([_valid(s, "z") for s in SITE_ORDER]).alias(MIN_Z),
    ]


def _site_of(score: str, lowest: str) -> pl.Expr:
    """Code of the first site in SITE_ORDER whose valid score equals the lowest one."""
    expr = pl.when(pl.col(lowest).is_null()).then(pl.lit(0, dtype=pl.UInt8))
    for code, site in enumerate(SITE_ORDER, start=1):
        expr = expr.when(_valid(site, score) == pl.col(lowest)).then(
            pl.lit(code, dtype=pl.UInt8)
        )
    return expr.otherwise(pl.lit(0, dtype=pl.UInt8))


def site_stage() -> list[pl.Expr]:
    """Site codes of the lowest valid T and Z."""
    return [_site_of("t", MIN_T).alias(SITE_T), _site_of("z", MIN_Z).alias(SITE_Z)]
