"""The patient, not the exam: what a patient's earlier visits carry into a decision
(clinical-rules.md section 7a).

Why a stage of its own: every other stage judges one row. Here the rows of one patient
are read together, once, with window expressions over the patient's visits (a visit is
a patient's exams of one date), never a loop over patients:

- HX-SAME-DAY: a visit's rows are merged before anything is decided: per site the
  lowest valid score among the rows, SITE-RADIUS for the visit as a whole (the radius
  counts only when the visit lacks a valid spine or a valid hip), a yes in any row is
  yes, of numbers the highest, fracture sites united. Every row of the visit then reads
  the same inputs, so it gets the same decision.
- HX-FRACTURE-PERSISTS: fractures of earlier visits count on later ones; sites add up.
- HX-OSTEOPOROSIS-PERSISTS: an earlier WHO osteoporosis is remembered (`hx_osteoporosis`).
- HX-CENTRAL-SITE: a forearm-only visit reads the latest central visit's diagnostic T as
  well (`hx_central_t`), and its follow-up date is never later than that visit's
  (`cap_forearm_followup`, applied once the decisions exist).
- VHR-FX-ON-TREATMENT (section 4b) needs the previous visit, so it is worked out here
  too (`hx_fx_on_treatment`), and persists once met.

The stage rewrites the canonical input columns with the patient's effective inputs, and
adds the `hx_*` columns the treatment lines read and `history_used`, which lists the HX
rules that changed an input, so a reader can tell a measured fact from a carried one.
An exam's history is the other exams of its patient *in the frame*: the loader puts the
registry's exams of the batch's patients beside the batch (`pipelines.ingest.plan`).
"""

from __future__ import annotations

import polars as pl

from schemas.columns import FRACTURE_SITES
from transforms.rules.names import SITE_ORDER, fired, site_ok
from transforms.rules.ruleset import Ruleset

PATIENT, DATE = "patient_id", "exam_date"
VISIT = (PATIENT, DATE)
CENTRAL_SITES = ("spine", "total_hip", "femoral_neck")
#: Risk inputs merged over a visit: a yes in any row is yes (null only if all are null).
VISIT_BOOLEANS = ("prior_fragility_fracture", "vertebral_fracture", "parent_hip_fracture",
                  "current_smoker", "kyphosis", "back_pain", "on_treatment")
#: Numbers merged over a visit: the highest (dates: the latest).
VISIT_NUMBERS = ("glucocorticoid_mg_day", "glucocorticoid_months", "parent_hip_fracture_age",
                 "height_loss_cm", "alcohol_units_day", "frax_major_pct", "frax_hip_pct",
                 "bmi", "last_fracture_date", "treatment_start_date")
#: Who the patient is at the visit: the highest age; the menopausal status the furthest
#: along (post, peri, pre, unknown); the sex of the rows (alphabetically first, should
#: they disagree), so that the visit has one basis.
MENOPAUSE_ORDER = ("post", "peri", "pre", "unknown")
#: BMDs merged over a visit: the lowest (CAROC reads the femoral neck BMD of a man).
VISIT_BMDS = tuple(f"{site}_bmd" for site in SITE_ORDER)
SITES_LIST = "prior_fracture_sites"

#: Columns this stage adds (the treatment lines and the flags read them).
HX_OSTEOPOROSIS = "hx_osteoporosis"
HX_CENTRAL_T = "hx_central_t"
HX_FX_ON_TREATMENT = "hx_fx_on_treatment"
HX_SAME_DAY = "hx_same_day"
HX_FRACTURE_CONFLICT = "hx_fracture_conflict"
HISTORY_USED = "history_used"
#: Row columns kept for `cap_forearm_followup` (dropped from the outputs).
FOREARM_ONLY = "_hx_forearm_only"
CENTRAL_VISIT = "_hx_central_visit"
OWN_CENTRAL_CARRIED = "_hx_central_carried_lower"
OUTPUT_COLUMNS = (HX_OSTEOPOROSIS, HX_CENTRAL_T, HX_FX_ON_TREATMENT, HX_SAME_DAY,
                  HX_FRACTURE_CONFLICT, HISTORY_USED)

_V = "_v_"  # prefix of a visit's merged value


def _v(name: str) -> str:
    return f"{_V}{name}"


def _site_has(name: str) -> pl.Expr:
    return pl.col(SITES_LIST).list.contains(name).fill_null(False)


def _visit_aggregations() -> list[pl.Expr]:
    """One visit's merged inputs (HX-SAME-DAY), from its rows after per-row validity."""
    aggs = [pl.len().alias(_v("rows")), pl.col(fired("BASIS-WHO")).any().alias(_v("who"))]
    for site in CENTRAL_SITES:
        ok = pl.col(site_ok(site))
        aggs += [ok.any().alias(_v(f"ok_{site}"))]
        aggs += [pl.col(f"{site}_{s}").filter(ok).min().alias(_v(f"{site}_{s}"))
                 for s in ("t", "z")]
    has_radius = pl.col("radius_33_t").is_not_null() | pl.col("radius_33_z").is_not_null()
    aggs += [has_radius.any().alias(_v("has_radius_33"))]
    aggs += [pl.col(f"radius_33_{s}").min().alias(_v(f"radius_33_{s}")) for s in ("t", "z")]
    aggs += [pl.col(name).max().alias(_v(name)) for name in VISIT_BOOLEANS + VISIT_NUMBERS]
    aggs += [pl.col(name).min().alias(_v(name)) for name in VISIT_BMDS]
    status = pl.col("menopausal_status")
    aggs += [pl.col("age_years").max().alias(_v("age_years")),
             pl.col("sex").min().alias(_v("sex")),
             pl.coalesce(pl.when((status == s).any()).then(pl.lit(s)) for s in MENOPAUSE_ORDER)
             .alias(_v("menopausal_status"))]
    aggs += [pl.col(SITES_LIST).is_not_null().any().alias(_v("sites_recorded"))]
    aggs += [_site_has(code).any().alias(_v(f"site_{code}")) for code in FRACTURE_SITES]
    return aggs


def _earlier(expr: pl.Expr) -> pl.Expr:
    """True where any earlier visit of the patient had `expr` (visits sorted by date)."""
    return expr.fill_null(False).cum_max().shift(1).over(PATIENT).fill_null(False)


def _visit_validity() -> list[pl.Expr]:
    """SITE-RADIUS for the visit, the visit's lowest valid T, whether it is central."""
    hip = pl.col(_v("ok_total_hip")) | pl.col(_v("ok_femoral_neck"))
    radius_ok = pl.col(_v("has_radius_33")) & (~pl.col(_v("ok_spine")) | ~hip)
    central = pl.any_horizontal(pl.col(_v(f"ok_{s}")) for s in CENTRAL_SITES)
    return [radius_ok.alias(_v("ok_radius_33")), central.alias(CENTRAL_VISIT)]


def _visit_lowest_t() -> pl.Expr:
    radius = pl.when(pl.col(_v("ok_radius_33"))).then(pl.col(_v("radius_33_t")))
    return pl.min_horizontal(*(pl.col(_v(f"{s}_t")) for s in CENTRAL_SITES), radius)


def _fracture_history() -> list[pl.Expr]:
    """What earlier visits recorded (HX-FRACTURE-PERSISTS), per visit."""
    listed = pl.any_horizontal(pl.col(_v(f"site_{c}")) for c in FRACTURE_SITES)
    fracture = (pl.col(_v("prior_fragility_fracture")) == True) | listed  # noqa: E712
    return [
        _earlier(fracture).alias("_hx_earlier_fx"),
        _earlier(pl.col(_v("vertebral_fracture"))).alias("_hx_earlier_vertebral"),
        *(_earlier(pl.col(_v(f"site_{c}"))).alias(f"_hx_earlier_site_{c}")
          for c in FRACTURE_SITES),
        fracture.alias("_hx_fx_here"),
    ]


def _fx_on_treatment() -> pl.Expr:
    """VHR-FX-ON-TREATMENT, met here or at an earlier visit (it persists)."""
    new_site = pl.any_horizontal(
        pl.col(_v(f"site_{c}")) & ~pl.col(f"_hx_earlier_site_{c}") for c in FRACTURE_SITES)
    new_fracture = (
        (pl.col(_v("prior_fragility_fracture")).fill_null(False) & ~pl.col("_hx_earlier_fx"))
        | new_site
        | (pl.col(_v("vertebral_fracture")).fill_null(False)
           & ~pl.col("_hx_earlier_vertebral"))
    )
    previous_treated = pl.col(_v("on_treatment")).shift(1).over(PATIENT).fill_null(False)
    after_start = (pl.col(_v("last_fracture_date")) > pl.col(_v("treatment_start_date")))
    met = (new_fracture & previous_treated) | after_start.fill_null(False)
    return met.cum_max().over(PATIENT).alias(HX_FX_ON_TREATMENT)


def _patient_history(ruleset: Ruleset) -> list[pl.Expr]:
    """Per visit, sorted by patient and date: osteoporosis before, the carried central T."""
    lowest = pl.col("_hx_visit_t")
    osteoporosis = pl.col(_v("who")) & (lowest.round(6) <= ruleset.diagnosis.osteoporosis_t)
    central_t = pl.when(pl.col(CENTRAL_VISIT)).then(lowest)
    carried = central_t.forward_fill().shift(1).over(PATIENT)
    forearm_only = ~pl.col(CENTRAL_VISIT) & pl.col(_v("has_radius_33"))
    return [
        _earlier(osteoporosis).alias(HX_OSTEOPOROSIS),
        pl.when(forearm_only).then(carried).alias(HX_CENTRAL_T),
        forearm_only.alias(FOREARM_ONLY),
    ]


def visit_history(rows: pl.LazyFrame, ruleset: Ruleset) -> pl.LazyFrame:
    """One row per visit with its merged inputs and what earlier visits carry into it."""
    return (
        rows.group_by(*VISIT).agg(_visit_aggregations())
        .sort(*VISIT)
        .with_columns(_visit_validity())
        .with_columns(_visit_lowest_t().alias("_hx_visit_t"), *_fracture_history())
        .with_columns(*_patient_history(ruleset), _fx_on_treatment())
    )


def _merged_sites() -> pl.Expr:
    """The fracture sites of the visit and every earlier one, in vocabulary order."""
    codes = [pl.when(pl.col(_v(f"site_{code}")) | pl.col(f"_hx_earlier_site_{code}"))
             .then(pl.lit(code)) for code in FRACTURE_SITES]
    earlier_any = pl.any_horizontal(pl.col(f"_hx_earlier_site_{c}") for c in FRACTURE_SITES)
    recorded = pl.col(_v("sites_recorded")) | earlier_any
    return pl.when(recorded).then(pl.concat_list(codes).list.drop_nulls())


def _effective_inputs() -> list[pl.Expr]:
    """The canonical columns as the rules read them: the visit's, with history added."""
    exprs = [pl.col(_v(n)).alias(n) for n in
             (*VISIT_NUMBERS, *VISIT_BMDS, "age_years", "sex", "menopausal_status")]
    exprs += [pl.col(_v(n)).alias(n) for n in VISIT_BOOLEANS
              if n not in ("prior_fragility_fracture", "vertebral_fracture")]
    exprs += [
        pl.when(pl.col("_hx_earlier_fx")).then(True)
        .otherwise(pl.col(_v("prior_fragility_fracture"))).alias("prior_fragility_fracture"),
        pl.when(pl.col("_hx_earlier_vertebral")).then(True)
        .otherwise(pl.col(_v("vertebral_fracture"))).alias("vertebral_fracture"),
        _merged_sites().alias(SITES_LIST),
    ]
    for site in (*CENTRAL_SITES, "radius_33"):
        exprs += [pl.when(pl.col(_v(f"ok_{site}"))).then(pl.col(_v(f"{site}_{s}")))
                  .alias(f"{site}_{s}") for s in ("t", "z")]
        exprs += [pl.col(_v(f"ok_{site}")).alias(site_ok(site))]
    exprs += [pl.col(_v("ok_radius_33")).alias(fired("SITE-RADIUS"))]
    return exprs


def _history_flags() -> list[pl.Expr]:
    """HX-SAME-DAY and FRACTURE_HISTORY_CONFLICT inputs, and `history_used`."""
    said_no = ((pl.col("_hx_earlier_fx") & (pl.col(_v("prior_fragility_fracture")) == False))  # noqa: E712
               | (pl.col("_hx_earlier_vertebral")
                  & (pl.col(_v("vertebral_fracture")) == False)))  # noqa: E712
    added_site = pl.any_horizontal(
        pl.col(f"_hx_earlier_site_{c}") & ~pl.col(_v(f"site_{c}")) for c in FRACTURE_SITES)
    carried_fracture = (
        (pl.col("_hx_earlier_fx") & (pl.col(_v("prior_fragility_fracture")) != True))  # noqa: E712
        .fill_null(True)
        | (pl.col("_hx_earlier_vertebral") & (pl.col(_v("vertebral_fracture")) != True))  # noqa: E712
        .fill_null(True)
        | added_site
    )
    own_t = pl.col("_hx_visit_t")
    central_lower = (pl.col(HX_CENTRAL_T) < own_t).fill_null(False) | (
        pl.col(HX_CENTRAL_T).is_not_null() & own_t.is_null())
    used = [
        pl.when(pl.col(_v("rows")) > 1).then(pl.lit("HX-SAME-DAY")),
        pl.when(carried_fracture).then(pl.lit("HX-FRACTURE-PERSISTS")),
        pl.when(pl.col(HX_OSTEOPOROSIS)).then(pl.lit("HX-OSTEOPOROSIS-PERSISTS")),
        pl.when(central_lower).then(pl.lit("HX-CENTRAL-SITE")),
    ]
    return [
        (pl.col(_v("rows")) > 1).alias(HX_SAME_DAY),
        said_no.fill_null(False).alias(HX_FRACTURE_CONFLICT),
        central_lower.alias(OWN_CENTRAL_CARRIED),
        pl.concat_list(used).list.drop_nulls().alias(HISTORY_USED),
    ]


def history_stage(rows: pl.LazyFrame, ruleset: Ruleset) -> pl.LazyFrame:
    """The rows with their visit's merged inputs, their history, and `hx_*` columns.

    Runs after the basis and the per-row site validity, before the lowest scores: it
    replaces each site's scores and validity by the visit's (invalid sites read null).
    """
    visits = (visit_history(rows, ruleset)
              .with_columns(_effective_inputs())
              .with_columns(_history_flags()))
    replaced = [e.meta.output_name() for e in _effective_inputs()]
    keep = [*VISIT, *replaced, *OUTPUT_COLUMNS, FOREARM_ONLY, CENTRAL_VISIT,
            OWN_CENTRAL_CARRIED]
    return rows.drop(replaced).join(visits.select(keep), on=list(VISIT), how="left",
                                    maintain_order="left")


#: A date later than any follow-up, standing for "no date" while carrying one forward.
_NO_DATE = pl.date(9999, 12, 31)


def cap_forearm_followup(frame: pl.DataFrame) -> pl.DataFrame:
    """HX-CENTRAL-SITE's follow-up: a forearm-only visit's `next_dxa_due` is never later
    than the latest earlier central visit's (no date counts as later than any date).

    Needs the decisions of the earlier visits, so it runs after the engine's stages, on
    the decided frame; adds HX-CENTRAL-SITE to `history_used` where it moved a date.
    """
    visits = (
        frame.lazy().group_by(*VISIT)
        .agg(pl.col("next_dxa_due").min().alias("_due"), pl.col(CENTRAL_VISIT).first())
        .sort(*VISIT)
        .with_columns(
            pl.when(pl.col(CENTRAL_VISIT)).then(pl.col("_due").fill_null(_NO_DATE))
            .forward_fill().shift(1).over(PATIENT).alias("_central_due"))
        .select(*VISIT, "_central_due")
    )
    due = pl.col("next_dxa_due")
    central_due = pl.when(pl.col("_central_due") != _NO_DATE).then(pl.col("_central_due"))
    capped = (pl.col(FOREARM_ONLY) & pl.col("_central_due").is_not_null()
              & (due.is_null() | (due > central_due)).fill_null(False))
    return (
        frame.lazy().join(visits, on=list(VISIT), how="left", maintain_order="left")
        .with_columns(
            pl.when(capped).then(central_due).otherwise(due).alias("next_dxa_due"),
            pl.when(capped & ~pl.col(HISTORY_USED).list.contains("HX-CENTRAL-SITE"))
            .then(pl.col(HISTORY_USED).list.concat(pl.lit(["HX-CENTRAL-SITE"])))
            .otherwise(pl.col(HISTORY_USED)).alias(HISTORY_USED),
        )
        .drop("_central_due")
        .collect()
    )
