"""The patient, not the exam: what a patient's earlier visits carry into a decision
(clinical-rules.md section 7a).

Why a stage of its own: every other stage judges one row. Here a patient's rows are read
together, once, in patient order (`patient_order`), never with a loop over patients:

- HX-SAME-DAY: a visit's rows are merged before anything is decided (`visits`), so every
  row of a visit reads the same inputs and gets the same decision.
- HX-FRACTURE-PERSISTS: fractures of earlier visits count on later ones; sites add up.
- HX-OSTEOPOROSIS-PERSISTS: an earlier WHO osteoporosis is remembered (`hx_osteoporosis`).
- HX-CENTRAL-SITE: a forearm-only visit reads the latest central visit's diagnostic T as
  well (`hx_central_t`), and its follow-up date is never later than that visit's
  (`cap_forearm_followup`, once the decisions exist).
- VHR-FX-ON-TREATMENT (section 4b) needs the previous visit, so it is worked out here
  too (`hx_fx_on_treatment`), and persists once met.

The stage rewrites the canonical input columns with the patient's effective inputs and
adds the `hx_*` columns the treatment lines and flags read; `history_used` lists the HX
rules that changed an input, so a reader can tell a measured fact from a carried one.
An exam's history is the other exams of its patient *in the frame*: the loader puts the
registry's exams of the batch's patients beside the batch (`pipelines.ingest.judge`).
"""

from __future__ import annotations

import polars as pl

from schemas.columns import FRACTURE_SITES
from transforms.rules import patient_order as po
from transforms.rules.caroc import REFERENCE_NECK_BMD
from transforms.rules.names import fired, site_ok
from transforms.rules.ruleset import Ruleset
from transforms.rules.visits import (
    CENTRAL_SITES,
    SITE_BIT,
    SITES_LIST,
    VISIT_BMDS,
    VISIT_BOOLEANS,
    VISIT_NUMBERS,
    merged_visits,
    v,
)

#: Columns this stage adds (the treatment lines and the flags read them).
HX_OSTEOPOROSIS = "hx_osteoporosis"
HX_CENTRAL_T = "hx_central_t"
HX_FX_ON_TREATMENT = "hx_fx_on_treatment"
HX_SAME_DAY = "hx_same_day"
HX_FRACTURE_CONFLICT = "hx_fracture_conflict"
HISTORY_USED = "history_used"
#: Row columns kept for `cap_forearm_followup` (dropped with the order columns).
FOREARM_ONLY = "_hx_forearm_only"
CENTRAL_VISIT = "_hx_central_visit"
USED_MASK = "_hx_used"
OUTPUT_COLUMNS = (HX_OSTEOPOROSIS, HX_CENTRAL_T, HX_FX_ON_TREATMENT, HX_SAME_DAY,
                  HX_FRACTURE_CONFLICT)
#: `history_used`, in this order, as bits of USED_MASK.
HX_IDS = ("HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS", "HX-CENTRAL-SITE")
_BIT = {rule: 1 << i for i, rule in enumerate(HX_IDS)}
_EARLIER_FX, _EARLIER_VERTEBRAL = "_hx_earlier_fx", "_hx_earlier_vertebral"
_EARLIER_SITES, _VISIT_T = "_hx_earlier_sites", "_hx_visit_t"


def _lists(mask: str, codes: tuple[str, ...]) -> pl.DataFrame:
    """Every value of a bit mask over `codes` and its list of codes, in `codes` order."""
    values = range(1 << len(codes))
    return pl.DataFrame({
        mask: pl.Series(values, dtype=pl.UInt8),
        "_list": [[c for i, c in enumerate(codes) if m >> i & 1] for m in values],
    })


_SITE_LISTS = _lists("_sites_mask", FRACTURE_SITES)
_USED_LISTS = _lists(USED_MASK, HX_IDS).rename({"_list": HISTORY_USED})


def _has(mask: pl.Expr, bit: int) -> pl.Expr:
    return (mask & bit) != 0


def _visit_sites() -> list[pl.Expr]:
    """SITE-RADIUS for the visit as a whole; whether it is central or forearm-only."""
    hip = pl.col(v("ok_total_hip")) | pl.col(v("ok_femoral_neck"))
    radius_ok = pl.col(v("has_radius_33")) & (~pl.col(v("ok_spine")) | ~hip)
    central = pl.any_horizontal(pl.col(v(f"ok_{s}")) for s in CENTRAL_SITES)
    return [radius_ok.alias(v("ok_radius_33")), central.alias(CENTRAL_VISIT),
            # "no exam that day has a valid spine, femoral neck or total hip result"
            (~central).alias(FOREARM_ONLY)]


def _fracture_history() -> list[pl.Expr]:
    """What earlier visits recorded (HX-FRACTURE-PERSISTS), and the visit's lowest T."""
    sites = pl.col(v("sites"))
    fracture = (pl.col(v("prior_fragility_fracture")) == True) | (sites > 0)  # noqa: E712
    earlier_sites = pl.sum_horizontal(
        po.earlier(_has(sites, bit)).cast(pl.UInt8) * bit for bit in SITE_BIT.values())
    radius = pl.when(pl.col(v("ok_radius_33"))).then(pl.col(v("radius_33_t")))
    return [
        po.earlier(fracture).alias(_EARLIER_FX),
        po.earlier(pl.col(v("vertebral_fracture"))).alias(_EARLIER_VERTEBRAL),
        earlier_sites.cast(pl.UInt8).alias(_EARLIER_SITES),
        pl.min_horizontal(*(pl.col(v(f"{s}_t")) for s in CENTRAL_SITES), radius)
        .alias(_VISIT_T),
    ]


def _fx_on_treatment() -> pl.Expr:
    """VHR-FX-ON-TREATMENT, met here or at an earlier visit (it persists)."""
    sites = pl.col(v("sites"))
    new_fracture = (
        (pl.col(v("prior_fragility_fracture")).fill_null(False) & ~pl.col(_EARLIER_FX))
        | ((sites & ~pl.col(_EARLIER_SITES)) != 0)
        | (pl.col(v("vertebral_fracture")).fill_null(False) & ~pl.col(_EARLIER_VERTEBRAL))
    )
    treated_before = po.previous(pl.col(v("on_treatment"))).fill_null(False)
    after_start = pl.col(v("last_fracture_date")) > pl.col(v("treatment_start_date"))
    return po.so_far((new_fracture & treated_before) | after_start.fill_null(False)
                     ).alias(HX_FX_ON_TREATMENT)


def _carried(ruleset: Ruleset) -> list[pl.Expr]:
    """An earlier WHO osteoporosis; the latest earlier central visit's T (forearm-only)."""
    lowest = pl.col(_VISIT_T)
    osteoporosis = pl.col(v("who")) & (lowest.round(6) <= ruleset.diagnosis.osteoporosis_t)
    # the latest central visit's *diagnostic* T: none where it was not on the WHO basis
    carried = po.latest_earlier(pl.when(pl.col(v("who"))).then(lowest), pl.col(CENTRAL_VISIT))
    return [po.earlier(osteoporosis).alias(HX_OSTEOPOROSIS),
            pl.when(pl.col(FOREARM_ONLY)).then(carried).alias(HX_CENTRAL_T),
            _fx_on_treatment()]


def _inherited(name: str, earlier: str) -> pl.Expr:
    return pl.when(pl.col(earlier)).then(True).otherwise(pl.col(v(name))).alias(name)


def _effective_inputs() -> list[pl.Expr]:
    """The canonical columns as the rules read them: the visit's, with history added."""
    exprs = [pl.col(v(n)).alias(n) for n in (*VISIT_NUMBERS, *VISIT_BMDS, "sex",
                                             "menopausal_status")]
    exprs += [pl.col(v(n)).alias(n) for n in VISIT_BOOLEANS
              if n not in ("prior_fragility_fracture", "vertebral_fracture")]
    recorded = pl.col(v("sites_recorded")) | (pl.col(_EARLIER_SITES) > 0)
    exprs += [_inherited("prior_fragility_fracture", _EARLIER_FX),
              _inherited("vertebral_fracture", _EARLIER_VERTEBRAL),
              pl.when(recorded).then(pl.col(v("sites")) | pl.col(_EARLIER_SITES))
              .alias("_sites_mask")]
    for site in (*CENTRAL_SITES, "radius_33"):
        exprs += [pl.when(pl.col(v(f"ok_{site}"))).then(pl.col(v(f"{site}_{s}")))
                  .alias(f"{site}_{s}") for s in ("t", "z")]
        exprs += [pl.col(v(f"ok_{site}")).alias(site_ok(site))]
    return [*exprs, pl.col(v("ok_radius_33")).alias(fired("SITE-RADIUS")),
            pl.col(v("spine_min2")).alias(fired("SITE-SPINE-MIN2")),
            pl.col(v(REFERENCE_NECK_BMD)).alias(REFERENCE_NECK_BMD)]


def _said(name: str, value: bool) -> pl.Expr:
    return (pl.col(v(name)) == value).fill_null(False)


def _history_columns() -> list[pl.Expr]:
    """HX-SAME-DAY and FRACTURE_HISTORY_CONFLICT inputs, and the `history_used` bits."""
    fx, vertebral = pl.col(_EARLIER_FX), pl.col(_EARLIER_VERTEBRAL)
    said_no = (fx & _said("prior_fragility_fracture", False)) | (
        vertebral & _said("vertebral_fracture", False))
    added_site = (pl.col(_EARLIER_SITES) & ~pl.col(v("sites"))) != 0
    carried_fracture = ((fx & ~_said("prior_fragility_fracture", True))
                        | (vertebral & ~_said("vertebral_fracture", True)) | added_site)
    own_t, central_t = pl.col(_VISIT_T), pl.col(HX_CENTRAL_T)
    # changed an input where the treatment lines read it: on the WHO basis, against the
    # visit's own T
    central_lower = (pl.col(v("who")) & (central_t < own_t)).fill_null(False)
    same_day = pl.col(v("rows")) > 1
    # HX-OSTEOPOROSIS-PERSISTS is added once the lines are known (`cap_forearm_followup`):
    # it changes an input only where the ruleset has a line that reads it
    bits = [same_day, carried_fracture, pl.lit(False), central_lower]
    return [same_day.alias(HX_SAME_DAY), said_no.alias(HX_FRACTURE_CONFLICT),
            pl.sum_horizontal(b.cast(pl.UInt8) * _BIT[r] for b, r in zip(bits, HX_IDS,
                                                                        strict=True))
            .cast(pl.UInt8).alias(USED_MASK)]


def visit_history(ordered: pl.LazyFrame, ruleset: Ruleset) -> pl.LazyFrame:
    """One row per visit (in patient order) with its merged inputs, what earlier visits
    carry into it, and its effective inputs."""
    return (
        merged_visits(ordered)
        .with_columns(_visit_sites())
        .with_columns(_fracture_history())
        .with_columns(_carried(ruleset))
        .with_columns(_effective_inputs())
        .with_columns(_history_columns())
        .join(_SITE_LISTS.lazy(), on="_sites_mask", how="left", maintain_order="left")
        .with_columns(pl.col("_list").alias(SITES_LIST))
    )


def history_stage(rows: pl.LazyFrame, ruleset: Ruleset) -> pl.LazyFrame:
    """The rows, in patient order, with their visit's merged inputs, their history and the
    `hx_*` columns (`patient_order.restore_order` puts them back in the caller's order).

    Runs after the basis and the per-row site validity, before the lowest scores: it
    replaces each site's scores and validity by the visit's (invalid sites read null).
    """
    ordered = po.patient_order(rows).collect()
    replaced = [e.meta.output_name() for e in _effective_inputs() if
                e.meta.output_name() != "_sites_mask"] + [SITES_LIST]
    keep = [po.VISIT_NO, *replaced, *OUTPUT_COLUMNS, USED_MASK, FOREARM_ONLY,
            CENTRAL_VISIT]
    visits = visit_history(ordered.lazy(), ruleset).select(keep).collect()
    # visits are numbered 0, 1, ... in order: each row takes its visit's row (a gather,
    # cheaper than a join of a million rows on the visit number)
    per_row = visits.drop(po.VISIT_NO)[ordered.get_column(po.VISIT_NO)]
    return ordered.drop(replaced, strict=False).hstack(per_row).lazy()


#: A date later than any follow-up, standing for "no date" while carrying one forward.
_NO_DATE = pl.date(9999, 12, 31)


def cap_forearm_followup(frame: pl.DataFrame) -> pl.DataFrame:
    """HX-CENTRAL-SITE's follow-up, HX-OSTEOPOROSIS-PERSISTS where a history line read it,
    and `history_used` from its bits.

    A forearm-only visit's `next_dxa_due` is never later than the latest earlier central
    visit's (no date counts as later than any date). It needs the earlier visits'
    decisions, so it runs on the decided frame in patient order (every row of a visit has
    the visit's decision); where it moves a date, HX-CENTRAL-SITE is used.
    """
    due = pl.col("next_dxa_due")
    central_due = po.latest_earlier_visit(due.fill_null(_NO_DATE), pl.col(CENTRAL_VISIT))
    capped = (pl.col(FOREARM_ONLY) & central_due.is_not_null() & (central_due != _NO_DATE)
              & (due.is_null() | (due > central_due)).fill_null(False))
    history_line = pl.any_horizontal(
        pl.col(c) for c in frame.columns if c.startswith(fired("")) and
        c.endswith("-OSTEOPOROSIS-HISTORY"))
    osteoporosis = pl.col(HX_OSTEOPOROSIS) & history_line
    return frame.with_columns(
        pl.when(capped).then(central_due).otherwise(due).alias("next_dxa_due"),
        (pl.col(USED_MASK) | (capped.cast(pl.UInt8) * _BIT["HX-CENTRAL-SITE"])
         | (osteoporosis.cast(pl.UInt8) * _BIT["HX-OSTEOPOROSIS-PERSISTS"]))
        .cast(pl.UInt8).alias(USED_MASK),
    ).join(_USED_LISTS, on=USED_MASK, how="left", maintain_order="left")
