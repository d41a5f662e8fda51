"""Treatment decision on the WHO basis (clinical-rules.md sections 4-5).

Every treatment line the engine knows has its condition here (its declaration, the
wording `dxa rules` shows, is in `transforms.rules.treatment_lines`). A ruleset
lists the lines it uses, in its order, with the level each sets (`[treatment] lines`):
the first matching line sets `treatment`; every matching *indication* adds its ID to
`reasons`; a *fallback* fires only when no line above it matched. A patient already on
treatment gets `on_treatment` whatever the lines found (TX-ON-TREATMENT), the lines still
adding their IDs. core-2025 and bhof-2022 share this code; a third ruleset is a new file.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from transforms.rules.names import LEVEL, LINE_LEVEL, MIN_T, WHO_OK, fired, fired_col
from transforms.rules.risk import RF_IDS
from transforms.rules.ruleset import ON_TREATMENT, Ruleset
from transforms.rules.treatment_lines import KIND, LINE_IDS

#: WHO basis where no line matches (only reachable when a ruleset leaves lines out).
FALLBACK = "not_indicated"
NOT_APPLICABLE = "not_applicable"
#: Treatments that carry first_line_therapy.
ACTIVE = ("recommended", "consider")
#: Per-row treatment codes (LINE_LEVEL and LEVEL columns): cheaper than strings.
LEVEL_CODES: tuple[str, ...] = (NOT_APPLICABLE, "recommended", "consider",
                                "needs_risk_assessment", "not_indicated", ON_TREATMENT)
#: WHO category -> the fired column that says so.
CATEGORY_RULE = {
    "osteoporosis": "WHO-OSTEOPOROSIS",
    "osteopenia": "WHO-OSTEOPENIA",
    "normal": "WHO-NORMAL",
}
_OTHER_LOW_BMD_SITES = ["humerus", "pelvis", "forearm"]


def code(level: str) -> pl.Expr:
    """The UInt8 literal of a treatment level."""
    return pl.lit(LEVEL_CODES.index(level), dtype=pl.UInt8)


def _sites() -> tuple[pl.Expr, Callable[[str], pl.Expr]]:
    """(sites recorded, has(site)) over prior_fracture_sites (null: not recorded)."""
    sites = pl.col("prior_fracture_sites")
    recorded = (sites.list.len() > 0).fill_null(False)
    return recorded, lambda site: sites.list.contains(site).fill_null(False)


def _conditions(ruleset: Ruleset) -> dict[str, pl.Expr]:
    """The condition of every line the engine knows (before the fallback rule)."""
    t = ruleset.treatment
    osteopenia, normal = fired_col("WHO-OSTEOPENIA"), fired_col("WHO-NORMAL")
    fracture, radiographic = fired_col("RF-FRAGILITY-FX"), fired_col("RF-VERTEBRAL-FX")
    hip, major = pl.col("frax_hip_pct"), pl.col("frax_major_pct")
    frax_high = ((hip >= t.frax_hip_pct) | (major >= t.frax_major_pct)).fill_null(False)
    frax_missing = hip.is_null() | major.is_null()
    vertebral = radiographic & pl.any_horizontal(
        [fired_col(CATEGORY_RULE[c]) for c in t.vertebral_fracture_categories])
    if t.vertebral_fracture_t_limit is not None:
        vertebral = vertebral & (pl.col(MIN_T) <= t.vertebral_fracture_t_limit).fill_null(False)
    recorded, has = _sites()
    hip_or_vertebral = has("hip") | has("vertebral")
    return {
        "TX-FRAGILITY-FX": fracture,
        "TX-OSTEOPOROSIS": fired_col("WHO-OSTEOPOROSIS"),
        "TX-VERTEBRAL-FX": vertebral,
        "TX-FRAX-HIGH": osteopenia & frax_high,
        "TX-RISK-FEATURES": osteopenia & pl.any_horizontal([fired_col(r) for r in RF_IDS]),
        "TX-VERTEBRAL-FX-NORMAL-BMD": normal & radiographic,
        "TX-FRAX-MISSING": osteopenia & frax_missing,
        "TX-LOW-RISK": osteopenia & ~frax_missing,
        "TX-NORMAL": normal,
        "BHOF-HIP-VERTEBRAL-FX": hip_or_vertebral | radiographic,
        "BHOF-FX-SITE-UNKNOWN": fracture & ~recorded,
        "BHOF-OSTEOPOROSIS": fired_col("WHO-OSTEOPOROSIS"),
        "BHOF-FRAX-HIGH": osteopenia & frax_high,
        "BHOF-FX-OTHER-LOW-BMD": osteopenia & recorded & ~hip_or_vertebral
        & pl.any_horizontal([has(s) for s in _OTHER_LOW_BMD_SITES]),
        "BHOF-FRAX-MISSING": osteopenia & frax_missing,
        "BHOF-LOW-RISK": (osteopenia & ~frax_missing) | normal,
    }


def lines_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of every line (False where the ruleset omits it) and TX-ON-TREATMENT."""
    who = pl.col(WHO_OK)
    conditions = _conditions(ruleset)
    fired_lines: dict[str, pl.Expr] = {}
    above = pl.lit(False)
    for line in ruleset.treatment.lines:
        hit = who & conditions[line.id]
        if KIND[line.id] == "fallback":
            hit = hit & ~above
        fired_lines[line.id] = hit
        above = above | hit
    return [
        *(fired_lines.get(rule, pl.lit(False)).alias(fired(rule)) for rule in LINE_IDS),
        (who & pl.col("on_treatment").fill_null(False)).alias(fired("TX-ON-TREATMENT")),
    ]


def _first_line(ruleset: Ruleset, who_ok: pl.Expr, value: Callable[[str], pl.Expr],
                *, override: bool = True) -> pl.Expr:
    """`value(level)` of the decision: off-basis, on treatment, else the first line fired."""
    expr = pl.when(~who_ok).then(value(NOT_APPLICABLE))
    if override:
        expr = expr.when(fired_col("TX-ON-TREATMENT")).then(value(ON_TREATMENT))
    for line in ruleset.treatment.lines:
        expr = expr.when(fired_col(line.id)).then(value(line.level))
    return expr.otherwise(value(FALLBACK))


def level_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Per row: the level the lines set (LINE_LEVEL) and the treatment (LEVEL), as codes."""
    who = pl.col(WHO_OK)
    return [
        _first_line(ruleset, who, code, override=False).alias(LINE_LEVEL),
        _first_line(ruleset, who, code).alias(LEVEL),
    ]


def no_indication_on_treatment(ruleset: Ruleset) -> pl.Expr:
    """ON_TREATMENT_NO_INDICATION: on treatment, and only a not_indicated fallback matched."""
    indications = [fired_col(line.id) for line in ruleset.treatment.lines
                   if KIND[line.id] == "indication"]
    return (fired_col("TX-ON-TREATMENT") & (pl.col(LINE_LEVEL) == code("not_indicated"))
            & ~pl.any_horizontal([pl.lit(False), *indications]))


def treatment_text(ruleset: Ruleset, who_ok: pl.Expr) -> pl.Expr:
    """The `treatment` column (run on the distinct fired-bit combinations only)."""
    return _first_line(ruleset, who_ok, pl.lit)


def therapy_text(ruleset: Ruleset, treatment: pl.Expr) -> pl.Expr:
    """first_line_therapy where treatment is recommended or consider, else null."""
    return (
        pl.when(treatment.is_in(list(ACTIVE)))
        .then(pl.lit(ruleset.treatment.first_line_therapy))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
