"""CAROC 10-year fracture risk (clinical-rules.md section 5a), for every WHO-basis exam.

Registries rarely hold FRAX, so under core-2025 and bhof-2022 most osteopenic exams read
needs_risk_assessment. CAROC (Canadian Association of Radiologists and Osteoporosis
Canada) classifies risk from age, sex, the femoral neck T-score and two clinical factors,
all of which a registry has. `caroc_risk` and `caroc_reasons` are written under every
ruleset; only oc-2010 decides on them (its OC-* lines) and follows up by them (MON-CAROC).
CAROC is calibrated on Canadian data: decision support, not a risk calculation for a
patient elsewhere.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from transforms.rules.cuts import at_cut
from transforms.rules.declare import CAROC_SOURCE, Rule, ids
from transforms.rules.names import CAROC, WHO_OK, fired, fired_col, site_ok
from transforms.rules.ruleset import Ruleset
from transforms.rules.ruleset_sections import CarocRow
from transforms.rules.very_high_risk import fracture_site_count
from transforms.tscore import load_reference

_CANADIAN = ("CAROC is calibrated on Canadian data: decision support (who needs review), "
             "not a fracture-risk calculation for the patient.")
_TABLES = ("caroc.women", "caroc.men")
RULES: tuple[Rule, ...] = (
    Rule(
        "CAROC-BASAL", "caroc",
        "WHO basis, age at or above the first row of the sex's table: the age row is the "
        "last row whose age is at most the patient's (85 and over: the 85 row; under 50: "
        "not computed). Femoral neck T against the NHANES III white-female reference: for "
        "women the femoral neck T-score (reported, else computed from BMD); for men always "
        "computed from femoral_neck_bmd with the female reference where the scanner "
        "manufacturer is Hologic (a reported male-reference T-score is ignored), else not "
        "computed. Low when T > low_above, high when T < high_below, moderate between "
        "(both cuts inclusive). The category is then worked out in the order of the "
        "CAROC rules below; caroc_reasons lists those that applied, caroc_risk is null "
        "where none gives a category.",
        _TABLES, CAROC_SOURCE, caveat=_CANADIAN,
    ),
    Rule(
        "CAROC-SPINE-HIP", "caroc",
        "Age 50 or over (the table's first row), the basal category low or not computed, "
        "and a valid lumbar spine or total hip T-score <= spine_hip_t: moderate (CAROC: "
        "'low or undefined based on femoral neck BMD').",
        ("caroc.spine_hip_t",), CAROC_SOURCE, caveat=_CANADIAN,
    ),
    Rule(
        "CAROC-FX", "caroc",
        "A prior fragility fracture (after age 40: a registry adult's recorded fragility "
        "fracture is taken as such) raises a category one step, capped at high.",
        (), CAROC_SOURCE,
    ),
    Rule(
        "CAROC-GLUCOCORTICOID", "caroc",
        "RF-GLUCOCORTICOID raises a category one step, capped at high.",
        ("risk.glucocorticoid_mg_day", "risk.glucocorticoid_months"), CAROC_SOURCE,
    ),
    Rule(
        "CAROC-BOTH", "caroc",
        "Both CAROC-FX and CAROC-GLUCOCORTICOID, where there is a category: high.",
        (), CAROC_SOURCE,
    ),
    Rule(
        "CAROC-HIP-VERTEBRAL-FX", "caroc",
        "Age 50 or over and a hip or vertebral fragility fracture (listed site or "
        "radiographic vertebral fracture), or two or more fracture sites counted as in "
        "VHR-MULTIPLE-FX: high, also where the basal category is not computed "
        "(Osteoporosis Canada 2010).",
        (), CAROC_SOURCE, caveat=_CANADIAN,
    ),
)
CAROC_IDS: tuple[str, ...] = ids(RULES)
#: caroc_risk by code (0: not computed, null).
CAROC_CODES: tuple[str | None, ...] = (None, "low", "moderate", "high")
LOW, MODERATE, HIGH = 1, 2, 3
#: The reference CAROC's cuts are on (CAROC's own: NHANES III white women 20-29).
CAROC_REFERENCE = "nhanes3"
#: Intermediate columns: CAROC's neck T at the cut, the age row's cuts, age row found
#: (WHO basis, at or above the first row), the basal category code.
_T, _LOW_ABOVE, _HIGH_BELOW = "_caroc_t", "_caroc_low_above", "_caroc_high_below"
_ADULT, _BASAL = "_caroc_adult", "_caroc_basal"


@cache
def _female_neck() -> tuple[float, float, str | None]:
    """(mean, sd, calibration) of the femoral neck in CAROC's female reference."""
    reference = load_reference(CAROC_REFERENCE)
    entry = next(s for s in reference.covers("femoral_neck") if s.sex == "F")
    return entry.mean, entry.sd, reference.calibration


#: The visit's lowest femoral neck BMD measured on the reference's manufacturer (a
#: column of the history stage: a visit may hold rows of two scanners).
REFERENCE_NECK_BMD = "_reference_neck_bmd"


def reference_neck_bmd() -> pl.Expr:
    """A row's femoral neck BMD where its scanner is the reference's manufacturer (CAROC
    computes a man's T from it with the female reference), else null."""
    maker = _female_neck()[2]
    recorded = pl.col("scanner_manufacturer").str.to_lowercase().str.contains(
        (maker or "").lower(), literal=True).fill_null(False)
    return pl.when(recorded).then(pl.col("femoral_neck_bmd"))


def neck_t() -> pl.Expr:
    """The femoral neck T-score CAROC reads (female reference for men too)."""
    mean, sd, _ = _female_neck()
    male = ((pl.col(REFERENCE_NECK_BMD) - mean) / sd).round(6)
    sex = pl.col("sex")
    return pl.when(sex == "F").then(pl.col("femoral_neck_t")).when(sex == "M").then(male)


def _by_age(rows: tuple[CarocRow, ...], field: str) -> pl.Expr:
    """The row's `field` for the patient's age (null under the first row's age)."""
    age = pl.col("age_years")
    expr = pl.when(age >= rows[-1].age).then(pl.lit(getattr(rows[-1], field)))
    for row in reversed(rows[:-1]):
        expr = expr.when(age >= row.age).then(pl.lit(getattr(row, field)))
    return expr.otherwise(pl.lit(None, dtype=pl.Float64))


def _by_sex(ruleset: Ruleset, field: str) -> pl.Expr:
    c = ruleset.caroc
    sex = pl.col("sex")
    return pl.when(sex == "F").then(_by_age(c.women, field)).when(sex == "M").then(
        _by_age(c.men, field))


def inputs_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """CAROC's femoral neck T (at the cut), the row's two cuts and the age row (null under
    the first row), as columns: each is read several times below."""
    return [
        at_cut(neck_t()).alias(_T),
        _by_sex(ruleset, "low_above").alias(_LOW_ABOVE),
        _by_sex(ruleset, "high_below").alias(_HIGH_BELOW),
        (pl.col(WHO_OK) & _by_sex(ruleset, "age").is_not_null()).alias(_ADULT),
    ]


def basal_stage() -> list[pl.Expr]:
    """The basal category code (null: not computed), WHO basis only."""
    t, low_above, high_below = pl.col(_T), pl.col(_LOW_ABOVE), pl.col(_HIGH_BELOW)
    code = pl.when(t > low_above).then(LOW).when(t < high_below).then(HIGH)
    known = pl.col(WHO_OK) & t.is_not_null() & low_above.is_not_null()
    return [pl.when(known).then(code.otherwise(MODERATE)).cast(pl.UInt8).alias(_BASAL)]


def caroc_stage(ruleset: Ruleset) -> list[pl.Expr]:
    """The CAROC-* fired columns and the caroc_risk code (CAROC), WHO basis only."""
    adult, basal = pl.col(_ADULT), pl.col(_BASAL)
    cut = ruleset.caroc.spine_hip_t
    low_site = pl.any_horizontal([
        (pl.col(site_ok(site)) & (at_cut(pl.col(f"{site}_t")) <= cut)).fill_null(False)
        for site in ("spine", "total_hip")])
    spine_hip = adult & (basal.is_null() | (basal == LOW)).fill_null(True) & low_site
    category = pl.when(spine_hip).then(pl.lit(MODERATE, dtype=pl.UInt8)).otherwise(basal)
    fracture, steroid = fired_col("RF-FRAGILITY-FX"), fired_col("RF-GLUCOCORTICOID")
    has = category.is_not_null()
    stepped = pl.when(has).then(pl.min_horizontal(  # min_horizontal would skip a null
        category + fracture.cast(pl.UInt8) + steroid.cast(pl.UInt8), pl.lit(HIGH, pl.UInt8)))
    sites = pl.col("prior_fracture_sites")
    hip_vertebral = adult & (
        sites.list.contains("hip").fill_null(False)
        | sites.list.contains("vertebral").fill_null(False)
        | pl.col("vertebral_fracture").fill_null(False)
        | (fracture_site_count() >= 2))
    final = pl.when(hip_vertebral).then(pl.lit(HIGH, pl.UInt8)).otherwise(stepped)
    return [
        basal.is_not_null().alias(fired("CAROC-BASAL")),
        spine_hip.alias(fired("CAROC-SPINE-HIP")),
        (has & fracture).alias(fired("CAROC-FX")),
        (has & steroid).alias(fired("CAROC-GLUCOCORTICOID")),
        (has & fracture & steroid).alias(fired("CAROC-BOTH")),
        hip_vertebral.alias(fired("CAROC-HIP-VERTEBRAL-FX")),
        final.fill_null(0).cast(pl.UInt8).alias(CAROC),
    ]


def caroc_risk() -> pl.Expr:
    """The caroc_risk text of the CAROC code."""
    return pl.col(CAROC).replace_strict(
        {code: text for code, text in enumerate(CAROC_CODES) if text is not None},
        default=None, return_dtype=pl.String)


MONITORING_RULES: tuple[Rule, ...] = (
    Rule(
        "MON-CAROC", "monitoring",
        "WHO basis: next_dxa_due = exam date + high_months (treated, as MON-TREATED "
        "reads it, or caroc_risk high), moderate_months (moderate), low_months (low) or "
        "not_computed_months (null); an interval set to none gives no date (core-2025, "
        "bhof-2022: MON-CAROC never fires). The earlier date of all MON lines wins.",
        ("caroc.high_months", "caroc.moderate_months", "caroc.low_months",
         "caroc.not_computed_months"),
        f"{CAROC_SOURCE}; Osteoporosis Canada 2010: 1-3 years for moderate, 5-10 for low",
    ),
)


def _months(ruleset: Ruleset) -> dict[int, int | None]:
    c = ruleset.caroc
    return {0: c.not_computed_months, LOW: c.low_months, MODERATE: c.moderate_months,
            HIGH: c.high_months}


def _treated_or_high() -> pl.Expr:
    """MON-CAROC's 12-month class: "treated or high" (treated: what MON-TREATED reads)."""
    return fired_col("MON-TREATED") | (pl.col(CAROC) == HIGH)


def monitoring(ruleset: Ruleset) -> pl.Expr:
    """Whether MON-CAROC fires: on the WHO basis, its interval for the exam's class is set
    (a treated exam is in the high class; MON-TREATED gives its own date beside it)."""
    months = _months(ruleset)
    given = [code for code, interval in months.items() if interval is not None]
    if not given:
        return pl.lit(False)
    treated = fired_col("MON-TREATED") if months[HIGH] is not None else pl.lit(False)
    return pl.col(WHO_OK) & (treated | pl.col(CAROC).is_in(given))


def due_dates(ruleset: Ruleset) -> list[pl.Expr]:
    """MON-CAROC's date where it fired (null elsewhere), one expression per class."""
    months = _months(ruleset)
    high = _treated_or_high()
    return [
        pl.when(fired_col("MON-CAROC") & (high if code == HIGH else
                                          (pl.col(CAROC) == code) & ~high))
        .then(pl.col("exam_date").dt.offset_by(f"{interval}mo"))
        for code, interval in months.items() if interval is not None
    ]
