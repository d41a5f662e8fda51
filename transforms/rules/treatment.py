"""Treatment decision on the WHO basis (clinical-rules.md sections 4-5).

Every treatment line the engine knows has its condition here (its declaration, the
wording `dxa rules` shows, is in `transforms.rules.treatment_lines`). A ruleset
lists the lines it uses, in its order, with the level each sets (`[treatment] lines`):
the first matching line sets `treatment`; every matching *indication* adds its ID to
`reasons`; a *fallback* fires only when no line above it matched. A patient already on
treatment gets `on_treatment` whatever the lines found (TX-ON-TREATMENT), the lines still
adding their IDs; an exam that meets a very-high-risk line (`very_high_risk`) and is not
on treatment becomes `recommended` (VHR-ESCALATE). The lines read the WHO category of the
"treatment T" (HX-CENTRAL-SITE: the lower of the exam's own lowest valid T and the latest
central visit's, carried by the history stage; the stored category stays measured) and
the adjusted FRAX (`frax_adjust`). core-2025, bhof-2022 and oc-2010 share this code; a
further ruleset is a new file.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from transforms.rules import very_high_risk
from transforms.rules.caroc import HIGH, LOW, MODERATE
from transforms.rules.cuts import at_cut
from transforms.rules.names import (
    CAROC,
    LEVEL,
    LINE_LEVEL,
    MIN_T,
    TX_T,
    WHO_OK,
    fired,
    fired_col,
    tx_category,
)
from transforms.rules.risk import RF_IDS
from transforms.rules.ruleset import DRUG_HOLIDAY, ON_TREATMENT, WHO_CATEGORIES, Ruleset
from transforms.rules.treatment_lines import KIND, LINE_IDS

#: WHO basis where no line matches (only reachable when a ruleset leaves lines out).
FALLBACK = "not_indicated"
NOT_APPLICABLE = "not_applicable"
#: Treatments that carry first_line_therapy.
ACTIVE = ("recommended", "consider")
#: Per-row treatment codes (LINE_LEVEL and LEVEL columns): cheaper than strings.
LEVEL_CODES: tuple[str, ...] = (NOT_APPLICABLE, "recommended", "consider",
                                "needs_risk_assessment", "not_indicated", ON_TREATMENT,
                                DRUG_HOLIDAY)
_OTHER_LOW_BMD_SITES = ["humerus", "pelvis", "forearm"]
#: A fallback that also fires beside the indication named (and then sets nothing): the
#: request for FRAX stays visible where the risk features decided without it.
_ALSO_BESIDE = {"TX-FRAX-MISSING": "TX-RISK-FEATURES"}


def code(level: str) -> pl.Expr:
    """The UInt8 literal of a treatment level."""
    return pl.lit(LEVEL_CODES.index(level), dtype=pl.UInt8)


def _sites() -> tuple[pl.Expr, Callable[[str], pl.Expr]]:
    """(sites recorded, has(site)) over prior_fracture_sites (null: not recorded)."""
    sites = pl.col("prior_fracture_sites")
    recorded = (sites.list.len() > 0).fill_null(False)
    return recorded, lambda site: sites.list.contains(site).fill_null(False)


def seen_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """The treatment T (TX_T) and the WHO category the lines see, on the WHO basis."""
    d = ruleset.diagnosis
    t = pl.when(pl.col(WHO_OK)).then(pl.min_horizontal(pl.col(MIN_T), pl.col("hx_central_t")))
    cut = at_cut(t)
    seen = {
        "osteoporosis": cut <= d.osteoporosis_t,
        "osteopenia": (cut > d.osteoporosis_t) & (cut < d.normal_t),
        "normal": cut >= d.normal_t,
    }
    return [t.alias(TX_T),
            *(expr.fill_null(False).alias(tx_category(c)) for c, expr in seen.items())]


def _conditions(ruleset: Ruleset) -> dict[str, pl.Expr]:
    """The condition of every line the engine knows (before the fallback rule)."""
    t = ruleset.treatment
    osteoporosis, osteopenia, normal = (pl.col(tx_category(c)) for c in WHO_CATEGORIES)
    fracture, radiographic = fired_col("RF-FRAGILITY-FX"), fired_col("RF-VERTEBRAL-FX")
    hip, major = pl.col("frax_hip_adjusted"), pl.col("frax_major_adjusted")
    frax_high = ((at_cut(hip) >= t.frax_hip_pct)
                 | (at_cut(major) >= t.frax_major_pct)).fill_null(False)
    frax_missing = hip.is_null() | major.is_null()
    vertebral = radiographic & pl.any_horizontal(
        [pl.col(tx_category(c)) for c in t.vertebral_fracture_categories])
    if t.vertebral_fracture_t_limit is not None:
        vertebral = vertebral & (
            at_cut(pl.col(TX_T)) <= t.vertebral_fracture_t_limit).fill_null(False)
    recorded, has = _sites()
    hip_or_vertebral = has("hip") | has("vertebral")
    history = pl.col("hx_osteoporosis").fill_null(False)
    caroc = pl.col(CAROC)
    return {
        "TX-FRAGILITY-FX": fracture,
        "TX-OSTEOPOROSIS": osteoporosis,
        "TX-VERTEBRAL-FX": vertebral,
        "TX-OSTEOPOROSIS-HISTORY": history,
        "TX-FRAX-HIGH": osteopenia & frax_high,
        "TX-RISK-FEATURES": osteopenia & frax_missing
        & pl.any_horizontal([fired_col(r) for r in RF_IDS]),
        "TX-FRAX-MISSING": osteopenia & frax_missing,
        "TX-LOW-RISK": osteopenia & ~frax_missing,
        "TX-NORMAL": normal,
        "BHOF-HIP-VERTEBRAL-FX": hip_or_vertebral | radiographic,
        "BHOF-FX-SITE-UNKNOWN": fracture & ~recorded,
        "BHOF-OSTEOPOROSIS": osteoporosis,
        "BHOF-OSTEOPOROSIS-HISTORY": history,
        "BHOF-FRAX-HIGH": osteopenia & frax_high,
        "BHOF-FX-OTHER-LOW-BMD": osteopenia & recorded & ~hip_or_vertebral
        & pl.any_horizontal([has(s) for s in _OTHER_LOW_BMD_SITES]),
        "BHOF-FRAX-MISSING": osteopenia & frax_missing,
        "BHOF-LOW-RISK": (osteopenia & ~frax_missing) | normal,
        "OC-HIGH": caroc == HIGH,
        "OC-MODERATE": caroc == MODERATE,
        "OC-LOW": caroc == LOW,
        "OC-NOT-COMPUTABLE": caroc == 0,
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
            beside = fired_lines.get(_ALSO_BESIDE.get(line.id, ""))
            hit = hit & (~above if beside is None else ~above | beside)
        fired_lines[line.id] = hit
        above = above | hit
    return [
        *(fired_lines.get(rule, pl.lit(False)).alias(fired(rule)) for rule in LINE_IDS),
        (who & pl.col("on_treatment").fill_null(False)).alias(fired("TX-ON-TREATMENT")),
        (who & ~pl.col("on_treatment").fill_null(False)
         & (pl.col("treatment_drug") == DRUG_HOLIDAY).fill_null(False))
        .alias(fired("TX-DRUG-HOLIDAY")),
    ]


def _first_line(ruleset: Ruleset, who_ok: pl.Expr, value: Callable[[str], pl.Expr],
                *, override: bool = True) -> pl.Expr:
    """`value(level)` of the decision: off-basis, on treatment, else the first line fired."""
    expr = pl.when(~who_ok).then(value(NOT_APPLICABLE))
    if override:
        expr = expr.when(fired_col("TX-ON-TREATMENT")).then(value(ON_TREATMENT))
        expr = expr.when(fired_col("TX-DRUG-HOLIDAY")).then(value(DRUG_HOLIDAY))
        expr = expr.when(very_high_risk.any_line()).then(value("recommended"))
    for line in ruleset.treatment.lines:
        expr = expr.when(fired_col(line.id)).then(value(line.level))
    return expr.otherwise(value(FALLBACK))


def level_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Per row: the level the lines set (LINE_LEVEL), the treatment (LEVEL), as codes, and
    VHR-ESCALATE (very high risk, not on treatment, the lines set less than recommended)."""
    who = pl.col(WHO_OK)
    below_recommended = _first_line(
        ruleset, who, lambda level: pl.lit(level != "recommended"), override=False)
    return [
        _first_line(ruleset, who, code, override=False).alias(LINE_LEVEL),
        _first_line(ruleset, who, code).alias(LEVEL),
        (who & very_high_risk.any_line() & ~fired_col("TX-ON-TREATMENT")
         & ~fired_col("TX-DRUG-HOLIDAY") & below_recommended)
        .alias(fired("VHR-ESCALATE")),
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
    """first_line_therapy where treatment is recommended or consider, else null; the
    specialist text of very high risk where it is recommended and a VHR line fired."""
    return (
        pl.when((treatment == "recommended") & very_high_risk.any_line())
        .then(pl.lit(ruleset.very_high_risk.first_line_therapy))
        .when(treatment.is_in(list(ACTIVE)))
        .then(pl.lit(ruleset.treatment.first_line_therapy))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
