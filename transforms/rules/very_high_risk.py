"""Very high risk (clinical-rules.md section 4b), under every ruleset.

An exam on the WHO basis that meets any VHR line is flagged VERY_HIGH_RISK and treated
as very high risk whatever its treatment line said: `consider`, `needs_risk_assessment`
or `not_indicated` becomes `recommended` (VHR-ESCALATE, a reason only where it changed
the treatment; `on_treatment` stays), and a recommended exam's first-line therapy is the
ruleset's specialist text instead of the oral bisphosphonate. AACE/ACE 2020 and the
Endocrine Society 2020 start such patients on anabolic or parenteral therapy.
"""

from __future__ import annotations

import polars as pl

from transforms.rules.cuts import at_cut
from transforms.rules.declare import AACE, Rule, ids
from transforms.rules.names import TX_T, WHO_OK, fired, fired_col
from transforms.rules.ruleset import Ruleset

RULES: tuple[Rule, ...] = (
    Rule(
        "VHR-VERY-LOW-T", "very_high_risk",
        "WHO basis, a valid site with T < very_low_t (the T-score the treatment lines "
        "read: with HX-CENTRAL-SITE, the lower of the exam's own and the latest central "
        "visit's). Any VHR line met: flag VERY_HIGH_RISK (high; the detail names the lines "
        "met), the treatment becomes recommended (VHR-ESCALATE) and first_line_therapy "
        "the specialist text.",
        ("very_high_risk.very_low_t", "very_high_risk.first_line_therapy"), AACE,
    ),
    Rule(
        "VHR-FRAX", "very_high_risk",
        "WHO basis, adjusted FRAX (section 4a) major > frax_major_pct or hip > "
        "frax_hip_pct (also under oc-2010, which does not otherwise read FRAX).",
        ("very_high_risk.frax_major_pct", "very_high_risk.frax_hip_pct"), AACE,
    ),
    Rule(
        "VHR-MULTIPLE-FX", "very_high_risk",
        "WHO basis, at least fracture_sites distinct fracture sites (current or history): "
        "the sites listed in prior_fracture_sites, plus vertebral for a radiographic "
        "vertebral fracture (a listed vertebral site and a radiographic one are one site; "
        "other is a site; a yes with no site listed adds nothing). The registry records "
        "sites, not counts: several fractures of one site count once.",
        ("very_high_risk.fracture_sites",), AACE,
    ),
    Rule(
        "VHR-FX-ON-TREATMENT", "very_high_risk",
        "WHO basis, a fracture on treatment: this visit records a fracture absent from "
        "every earlier visit and the previous visit was on treatment, or last_fracture_date "
        "after treatment_start_date; once met it persists to later visits (decided by the "
        "history stage from the patient's visits).",
        (), AACE,
    ),
    Rule(
        "VHR-RECENT-FX", "very_high_risk",
        "WHO basis, exam date - last_fracture_date <= recent_fracture_days days.",
        ("very_high_risk.recent_fracture_days",), AACE,
    ),
    Rule(
        "VHR-FX-GLUCOCORTICOID", "very_high_risk",
        "WHO basis, a prior fragility fracture (RF-FRAGILITY-FX) with RF-GLUCOCORTICOID.",
        ("risk.glucocorticoid_mg_day", "risk.glucocorticoid_months"), AACE,
    ),
    Rule(
        "VHR-ESCALATE", "treatment",
        "A VHR line met, not on treatment, and the treatment lines set consider, "
        "needs_risk_assessment or not_indicated (or no line matched): treatment = "
        "recommended. A reason only where it changed the treatment.",
        (), AACE,
    ),
)
#: The VHR lines (VHR-ESCALATE is not a line: it acts on them).
LINE_IDS: tuple[str, ...] = ids(RULES[:-1])
#: The detail's prefix of VERY_HIGH_RISK.
DETAIL = "very high risk, lines met: "


def fracture_site_count() -> pl.Expr:
    """Distinct fracture sites: listed sites, plus vertebral for a radiographic fracture."""
    listed = pl.col("prior_fracture_sites").list.unique()
    radiographic_only = pl.col("vertebral_fracture").fill_null(False) & ~(
        listed.list.contains("vertebral").fill_null(False))
    return listed.list.len().fill_null(0) + radiographic_only.cast(pl.UInt32)


def lines_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """Fired columns of every VHR line (on the WHO basis only)."""
    v = ruleset.very_high_risk
    days = (pl.col("exam_date") - pl.col("last_fracture_date")).dt.total_days()
    lines = {
        "VHR-VERY-LOW-T": at_cut(pl.col(TX_T)) < v.very_low_t,
        "VHR-FRAX": (at_cut(pl.col("frax_major_adjusted")) > v.frax_major_pct)
        | (at_cut(pl.col("frax_hip_adjusted")) > v.frax_hip_pct),
        "VHR-MULTIPLE-FX": fracture_site_count() >= v.fracture_sites,
        "VHR-FX-ON-TREATMENT": pl.col("hx_fx_on_treatment"),
        "VHR-RECENT-FX": days <= v.recent_fracture_days,
        "VHR-FX-GLUCOCORTICOID": fired_col("RF-FRAGILITY-FX") & fired_col("RF-GLUCOCORTICOID"),
    }
    who = pl.col(WHO_OK)
    return [(who & expr.fill_null(False)).alias(fired(rule)) for rule, expr in lines.items()]


def any_line() -> pl.Expr:
    """Some VHR line fired (reads the fired columns, so also on the lookup's bits)."""
    return pl.any_horizontal([fired_col(rule) for rule in LINE_IDS])


def detail() -> pl.Expr:
    """VERY_HIGH_RISK's detail: the lines met, by ID."""
    met = pl.concat_str([pl.when(fired_col(r)).then(pl.lit(r)) for r in LINE_IDS],
                        separator=", ", ignore_nulls=True)
    return pl.lit(DETAIL) + met
