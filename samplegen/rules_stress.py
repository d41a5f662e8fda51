"""Rule-boundary patients for the clinical-rules oracle test (clinical-rules.md version 3).

`generate_rule_exams(n, seed)` starts from `samplegen.canonical.generate_exams` (its
realistic sites, BMD, T- and Z-scores, scanners and questionnaire) and regroups and
overlays it, vectorized (numpy draws, polars expressions; no Python loop per row), so
that every version-3 situation occurs often in 100k exams:

* patients of 3-5 exams, dates 0-900 days apart with about a quarter of the later exams
  on the same day as the one before (HX-SAME-DAY), some of them forearm-only rows
  (HX-CENTRAL-SITE, SITE-RADIUS at visit level);
* one sex, menopausal status and base age per patient; base ages on the CAROC age rows'
  edges (49-86) and some young patients; age grows with the exam date;
* femoral neck T-scores on the WHO, CAROC and VHR cuts, osteoporosis that improves
  (HX-OSTEOPOROSIS-PERSISTS), spine-hip offsets around 0.5 (FRAX-ADJ-SPINE-OFFSET);
* Hologic, GE Lunar and blank manufacturers, with BMD and no T-score on some rows
  (TSCORE-FROM-BMD, T_SCORE_NOT_COMPUTED) and femoral neck BMD for men (CAROC-BASAL);
* fractures per exam: yes (with 0-2 sites), blank, explicit no after a yes
  (HX-FRACTURE-PERSISTS, FRACTURE_HISTORY_CONFLICT), radiographic vertebral fractures;
* glucocorticoid doses around 2.5 / 5 / 7.5 mg, FRAX hip 3-5 %, major 20 / 30 %,
  on-treatment sequences, `last_fracture_date` and `treatment_start_date`.

Returns a typed frame with the canonical columns (`prior_fracture_sites` a list of
codes), rows grouped by patient in date order.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from samplegen.canonical import generate_exams
from schemas.columns import CANONICAL_COLUMNS, FRACTURE_SITES, polars_dtype

#: CAROC age-row edges and a few ages around the basis boundaries.
BASE_AGES = (15.0, 19.0, 25.0, 35.0, 40.0, 45.0, 48.0, 49.0, 49.9, 50.0, 54.0, 55.0, 59.0,
             60.0, 64.0, 65.0, 69.0, 70.0, 74.0, 75.0, 79.0, 80.0, 84.0, 85.0, 86.0)
NECK_T = (-4.0, -3.9, -3.8, -3.7, -3.2, -3.1, -3.0, -2.9, -2.6, -2.5, -2.4, -2.3, -2.2,
          -2.1, -2.0, -1.9, -1.7, -1.2, -1.1, -1.0, -0.9, -0.5, 0.1, 0.2)
OFFSETS = (0.4, 0.49, 0.5, 0.6, 1.4, 1.5, 2.5)
#: (values, weights): the boundary values, most draws away from the very-high-risk cuts.
GC_MG = ((None, 0.0, 2.4, 2.5, 4.9, 5.0, 7.4, 7.5, 10.0),
         (0.3, 0.3, 0.05, 0.07, 0.05, 0.07, 0.05, 0.06, 0.05))
GC_MONTHS = ((None, 2.9, 3.0, 6.0, 12.0), (0.3, 0.15, 0.2, 0.15, 0.2))
FRAX_MAJOR = ((None, 9.0, 17.5, 19.9, 20.0, 26.5, 29.9, 30.0, 30.1, 35.0),
              (0.3, 0.22, 0.1, 0.1, 0.08, 0.06, 0.04, 0.04, 0.03, 0.03))
FRAX_HIP = ((None, 1.2, 2.5, 2.9, 3.0, 3.8, 4.5, 4.6, 5.0, 10.0),
            (0.3, 0.22, 0.1, 0.1, 0.08, 0.06, 0.05, 0.03, 0.03, 0.03))
MAKERS = ("Hologic", "GE Lunar", None)
SITES = ("spine", "femoral_neck", "total_hip", "radius_33")


def _pick(rng: np.random.Generator, values: tuple, n: int) -> list:
    """n draws from values (None allowed; or a (values, weights) pair), as a list for a
    polars Series."""
    if len(values) == 2 and isinstance(values[0], tuple):
        values, weights = values
        index = rng.choice(len(values), size=n, p=np.array(weights) / sum(weights))
    else:
        index = rng.integers(0, len(values), size=n)
    return [values[i] for i in index]


def _fit(sizes: np.ndarray, n: int) -> np.ndarray:
    """Patient sizes summing to exactly n, each 3-5 (n >= 3): the last patient is cut
    to the remainder, and a remainder of 1-2 borrows rows from earlier 4-5 patients."""
    if n < 3:
        return np.array([n]) if n else np.array([], dtype=int)
    total = np.cumsum(sizes)
    k = int(np.searchsorted(total, n))
    sizes = sizes[: k + 1].copy()
    sizes[k] = n - (total[k - 1] if k else 0)
    i = k - 1
    while sizes[k] < 3 and i >= 0:  # at most two rows to borrow: a few patients
        if sizes[i] > 3:
            sizes[i] -= 1
            sizes[k] += 1
        else:
            i -= 1
    return sizes


def _schema() -> dict[str, pl.DataType]:
    return {name: polars_dtype(kind) for name, kind in CANONICAL_COLUMNS.items()}


def generate_rule_exams(n: int, seed: int, *, first: date = date(2015, 1, 1)) -> pl.DataFrame:
    """`n` exams of patients with 3-5 exams each, weighted to the version-3 rule edges."""
    rng = np.random.default_rng(seed)
    base = generate_exams(n, seed)
    # --- patients of 3-5 exams
    sizes = rng.integers(3, 6, size=n // 3 + 2)
    sizes = _fit(sizes, n)
    patient = np.repeat(np.arange(sizes.size), sizes)[:n]
    starts = np.r_[True, patient[1:] != patient[:-1]]
    gaps = np.where(rng.random(n) < 0.25, 0, rng.integers(30, 900, size=n))
    gaps[starts] = 0
    n_pat = int(patient.max()) + 1
    first_day = rng.integers(0, 8 * 365, size=n_pat)
    sex = np.where(rng.random(n_pat) < 0.7, "F", "M")
    ages = np.where(rng.random(n_pat) < 0.75,
                    np.array(BASE_AGES)[rng.integers(0, len(BASE_AGES), n_pat)],
                    rng.integers(20, 96, n_pat).astype(float))
    meno = np.array(["post", "peri", "pre", "unknown", ""])[
        rng.choice(5, size=n_pat, p=[0.45, 0.1, 0.1, 0.15, 0.2])]
    improving = rng.random(n_pat) < 0.15
    fractures = rng.random(n_pat) < 0.35  # patients with fracture answers at all
    treated = rng.random(n_pat) < 0.4  # patients with on-treatment answers at all

    u = {name: rng.random(n) for name in (
        "forearm", "offset", "neck", "maker", "drop_t", "fx", "sites", "lfd", "tsd", "tx",
        "vf", "bmd_man")}
    frame = base.with_columns(
        _p=pl.Series(patient), _gap=pl.Series(gaps), _start=pl.Series(starts),
    ).with_columns(
        patient_id=pl.format("R{}-{}", pl.lit(seed), pl.col("_p")),
        _days=pl.col("_gap").cum_sum().over("_p"),
        sex=pl.Series(sex[patient]),
        _first=pl.Series(first_day[patient]),
        _age0=pl.Series(ages[patient]),
        menopausal_status=pl.Series(meno[patient]).replace("", None),
        _improving=pl.Series(improving[patient]),
    ).with_columns(
        exam_date=pl.lit(first) + pl.duration(days=pl.col("_first") + pl.col("_days")),
        age_years=pl.col("_age0") + (pl.col("_days") / 365.25).floor(),
        menopausal_status=pl.when(pl.col("sex") == "F").then("menopausal_status"),
        birth_date=pl.lit(None, dtype=pl.Date),
        # BMI from height and weight where blank, as the parser does; then drop them
        bmi=pl.coalesce("bmi", (pl.col("weight_kg") / (pl.col("height_cm") / 100) ** 2)
                        .round(1)),
        height_cm=pl.lit(None, dtype=pl.Float64), weight_kg=pl.lit(None, dtype=pl.Float64),
    )
    # --- sites: boundary neck T-scores, improving osteoporosis, spine-hip offsets
    neck = pl.Series(_pick(rng, NECK_T, n), dtype=pl.Float64)
    offset = pl.Series(_pick(rng, OFFSETS, n), dtype=pl.Float64)
    frame = frame.with_columns(
        femoral_neck_t=pl.when(pl.col("_improving") & pl.col("_start")).then(-2.6)
        .when(pl.col("_improving")).then(-2.4)
        .when(pl.lit(pl.Series(u["neck"] < 0.4))).then(neck)
        .otherwise("femoral_neck_t"),
    ).with_columns(
        spine_t=pl.when(pl.lit(pl.Series(u["offset"] < 0.15))
                        & pl.col("femoral_neck_t").is_not_null())
        .then(pl.col("femoral_neck_t") - offset).otherwise("spine_t"),
    )
    # forearm-only rows: no central site; a radius T on the cuts
    forearm = pl.lit(pl.Series(u["forearm"] < 0.12))
    central = [f"{s}_{k}" for s in ("spine", "femoral_neck", "total_hip")
               for k in ("bmd", "t", "z")]
    frame = frame.with_columns(
        [pl.when(forearm).then(None).otherwise(c).alias(c) for c in central]
        + [pl.when(forearm).then(pl.Series(_pick(rng, NECK_T, n), dtype=pl.Float64))
           .otherwise("radius_33_t").alias("radius_33_t")]
    )
    # manufacturers; BMD without a T-score on some rows; men's femoral neck BMD
    frame = frame.with_columns(
        scanner_manufacturer=pl.when(pl.lit(pl.Series(u["maker"] < 0.3)))
        .then(pl.Series(_pick(rng, MAKERS, n), dtype=pl.String))
        .otherwise("scanner_manufacturer"),
        femoral_neck_bmd=pl.when((pl.col("sex") == "M") & pl.col("femoral_neck_t").is_not_null()
                                 & pl.lit(pl.Series(u["bmd_man"] < 0.8)))
        .then((0.858 + 0.12 * (pl.col("femoral_neck_t") + 0.3)).round(3))
        .otherwise("femoral_neck_bmd"),
    )
    drop_t = pl.lit(pl.Series(u["drop_t"] < 0.1))
    frame = frame.with_columns(
        [pl.when(drop_t & pl.col(f"{s}_bmd").is_not_null()).then(None)
         .otherwise(f"{s}_t").alias(f"{s}_t") for s in ("spine", "femoral_neck", "total_hip")]
    )
    # --- fractures, glucocorticoids, FRAX, treatment course
    fx = np.select([u["fx"] < 0.3, u["fx"] < 0.55], [1, 0], default=-1)  # yes, no, blank
    fx = np.where(fractures[patient], fx, np.where(u["fx"] < 0.5, 0, -1))
    n_sites = np.where((fx == 1) & (u["sites"] < 0.6), rng.integers(1, 3, size=n), 0)
    codes = np.array(FRACTURE_SITES)
    site_a = codes[rng.integers(0, len(codes), size=n)]
    site_b = codes[rng.integers(0, len(codes), size=n)]
    lfd_days = rng.integers(0, 800, size=n)
    has_lfd = (fx == 1) & (u["lfd"] < 0.3)
    vf = np.select([u["vf"] < 0.05, u["vf"] < 0.4], [1, 0], default=-1)
    tx = np.select([u["tx"] < 0.5, u["tx"] < 0.8], [1, 0], default=-1)
    tx = np.where(treated[patient], tx, np.where(u["tx"] < 0.5, 0, -1))
    frame = frame.with_columns(
        prior_fragility_fracture=pl.Series(np.where(fx == -1, None, fx == 1).tolist(),
                                           dtype=pl.Boolean),
        prior_fracture_sites=pl.when(pl.lit(pl.Series(n_sites == 0))).then(None)
        .when(pl.lit(pl.Series(n_sites == 1))).then(pl.concat_list(pl.lit(pl.Series(site_a))))
        .otherwise(pl.concat_list(pl.lit(pl.Series(site_a)), pl.lit(pl.Series(site_b)))
                   .list.unique(maintain_order=True)),
        last_fracture_date=pl.when(pl.lit(pl.Series(has_lfd)))
        .then(pl.col("exam_date") - pl.duration(days=pl.lit(pl.Series(lfd_days)))),
        vertebral_fracture=pl.Series(np.where(vf == -1, None, vf == 1).tolist(),
                                     dtype=pl.Boolean),
        on_treatment=pl.Series(np.where(tx == -1, None, tx == 1).tolist(), dtype=pl.Boolean),
        treatment_start_date=pl.when(pl.lit(pl.Series((tx == 1) & (u["tsd"] < 0.5))))
        .then(pl.col("exam_date") - pl.duration(days=pl.lit(pl.Series(
            rng.integers(0, 2500, size=n))))),
        glucocorticoid_mg_day=pl.Series(_pick(rng, GC_MG, n), dtype=pl.Float64),
        glucocorticoid_months=pl.Series(_pick(rng, GC_MONTHS, n), dtype=pl.Float64),
        frax_major_pct=pl.Series(_pick(rng, FRAX_MAJOR, n), dtype=pl.Float64),
        frax_hip_pct=pl.Series(_pick(rng, FRAX_HIP, n), dtype=pl.Float64),
        treatment_drug=pl.lit(None, dtype=pl.String),
    )
    schema = _schema()
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
