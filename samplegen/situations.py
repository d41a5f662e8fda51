"""The clinical situations of the rules (version 3), found in a typed canonical frame.

Each situation is a question a reviewer asks of the sample ("is there a treated patient
with normal BMD?"), answered from the contract columns alone, the way the rules read
them (clinical-rules.md §1, §2, §4-7): the sample's README lists how often each occurs
and the tests hold the generator to those rates. The definitions are deliberately
simple readings of the rules (default precision for the LSC, the basis and lowest valid
T-score of §1-2), not the pipeline's code.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from samplegen.model import whole_years

#: Default least significant change per site, % (2.77 x the default precision, §7).
DEFAULT_LSC: dict[str, float] = {
    "spine": 2.77 * 1.9,
    "total_hip": 2.77 * 1.8,
    "femoral_neck": 2.77 * 2.5,
}

_LOWEST_T = "_lowest_t"
_BASIS = "_basis"


@dataclass(frozen=True)
class Situation:
    """One situation: its name, what it is, the rules it exercises, and whether it is
    counted in exams or in patients."""

    name: str
    description: str
    rules: str
    unit: str  # "exams" or "patients"


SITUATIONS: tuple[Situation, ...] = (
    Situation(
        "fracture_sites_listed",
        "`prior_fracture_sites` lists one or two sites",
        "BHOF-HIP-VERTEBRAL-FX, BHOF-FX-OTHER-LOW-BMD, TX-FRAGILITY-FX",
        "exams",
    ),
    Situation(
        "fracture_site_not_recorded",
        "prior fragility fracture, its site not recorded",
        "BHOF-FX-SITE-UNKNOWN",
        "exams",
    ),
    Situation(
        "hip_side_changed",
        "hip side differs from the patient's previous recorded hip side",
        "CHG-SAME-REGION (`REGION_CHANGED`)",
        "exams",
    ),
    Situation(
        "hip_side_not_recorded",
        "hip scanned, `hip_side` blank",
        "CHG-SAME-REGION (`region_verified` false)",
        "exams",
    ),
    Situation(
        "vertebra_count_changed",
        "`spine_vertebrae` differs from the patient's previous spine exam",
        "CHG-SAME-REGION (`REGION_CHANGED`)",
        "exams",
    ),
    Situation(
        "slow_loss",
        "three exams on one scanner and region, each step within the default LSC, "
        "the last against the first beyond it (total hip or spine)",
        "CHG-BASELINE, CHG-LOSS",
        "patients",
    ),
    Situation(
        "slow_loss_on_treatment",
        "slow loss (above) while on treatment at the last exam",
        "CHG-BASELINE, CHG-LOSS (`LOSS_ON_TREATMENT`)",
        "patients",
    ),
    Situation(
        "other_scanner_in_between",
        "an exam on another scanner between two exams on the same scanner",
        "CHG-PRIOR",
        "patients",
    ),
    Situation(
        "on_treatment",
        "on treatment (WHO basis)",
        "TX-ON-TREATMENT",
        "exams",
    ),
    Situation(
        "on_treatment_normal_bmd",
        "on treatment with normal BMD (lowest valid T >= -1.0)",
        "TX-ON-TREATMENT, `ON_TREATMENT_NO_INDICATION` (TX-NORMAL)",
        "exams",
    ),
    Situation(
        "on_treatment_low_frax",
        "on treatment, osteopenia, FRAX recorded and low (hip < 3%, major < 20%), no "
        "fracture",
        "TX-ON-TREATMENT, `ON_TREATMENT_NO_INDICATION` (TX-LOW-RISK)",
        "exams",
    ),
    Situation(
        "vertebral_fracture_normal_bmd",
        "radiographic vertebral fracture with normal BMD (WHO basis)",
        "TX-VERTEBRAL-FX (`VERTEBRAL_FX_NORMAL_BMD`)",
        "exams",
    ),
    Situation(
        "fracture_on_z_basis",
        "premenopausal woman or man under 50 with a fragility or vertebral fracture",
        "`FRACTURE_ON_Z_BASIS`, WORKUP-Z-FRACTURE, MON-Z-FRACTURE",
        "exams",
    ),
    Situation(
        "glucocorticoids_normal_bmd",
        ">= 7.5 mg/day glucocorticoids for >= 3 months with normal BMD (WHO basis)",
        "RF-GLUCOCORTICOID, MON-GLUCOCORTICOID",
        "exams",
    ),
    Situation(
        "same_day_exams",
        "another exam of the patient on the same day (e.g. a forearm row beside the hip)",
        "HX-SAME-DAY (`SAME_DAY_EXAMS`)",
        "exams",
    ),
    Situation(
        "fracture_blank_after_yes",
        "fracture cells blank after an earlier exam recorded a fracture",
        "HX-FRACTURE-PERSISTS",
        "exams",
    ),
    Situation(
        "fracture_no_after_yes",
        "fracture recorded as no after an earlier exam recorded one",
        "HX-FRACTURE-PERSISTS (`FRACTURE_HISTORY_CONFLICT`)",
        "exams",
    ),
    Situation(
        "improved_from_osteoporosis",
        "a later exam's lowest T above -2.5 after an earlier one at or below it",
        "HX-OSTEOPOROSIS-PERSISTS, TX-OSTEOPOROSIS-HISTORY",
        "exams",
    ),
    Situation(
        "frax_hip_3_to_5",
        "FRAX hip 3-5% (WHO basis)",
        "TX-FRAX-HIGH (3% in version 3)",
        "exams",
    ),
    Situation(
        "glucocorticoid_frax",
        ">= 7.5 mg/day glucocorticoids for >= 3 months with FRAX recorded",
        "FRAX-ADJ-GLUCOCORTICOID",
        "exams",
    ),
    Situation(
        "spine_hip_offset",
        "spine T lower than the femoral neck T by 0.5 or more, FRAX recorded",
        "FRAX-ADJ-SPINE-OFFSET",
        "exams",
    ),
    Situation(
        "very_low_t",
        "lowest valid T below -3.0 (WHO basis)",
        "VHR-VERY-LOW-T (`VERY_HIGH_RISK`)",
        "exams",
    ),
    Situation(
        "bmd_only_hologic",
        "BMD without any T- or Z-score, Hologic",
        "TSCORE-FROM-BMD (T computed)",
        "exams",
    ),
    Situation(
        "bmd_only_no_manufacturer",
        "BMD without any T- or Z-score, manufacturer blank",
        "TSCORE-FROM-BMD (`T_SCORE_NOT_COMPUTED`; the row is quarantined)",
        "exams",
    ),
)


def _age() -> pl.Expr:
    return pl.coalesce(
        pl.col("age_years"),
        whole_years(pl.col("exam_date"), pl.col("birth_date")).cast(pl.Float64),
    )


def _basis() -> pl.Expr:
    """`who`, `z` or `pediatric` (§1: peri counts as post; a missing or unknown status
    is post from 50)."""
    age = _age()
    meno = pl.col("menopausal_status")
    post = meno.is_in(["post", "peri"]) | (meno.is_null() | (meno == "unknown")) & (age >= 50)
    who = pl.when(pl.col("sex") == "F").then(post).otherwise(age >= 50)
    return pl.when(age < 20).then(pl.lit("pediatric")).when(who).then(pl.lit("who")).otherwise(
        pl.lit("z")
    )


def _lowest_t() -> pl.Expr:
    """The lowest valid T-score (§2: spine on >= 2 vertebrae, radius only without a valid
    spine or hip)."""
    spine = pl.when(pl.col("spine_vertebrae").fill_null(4) >= 2).then(pl.col("spine_t"))
    hip = pl.min_horizontal("femoral_neck_t", "total_hip_t")
    radius = pl.when(spine.is_null() | hip.is_null()).then(pl.col("radius_33_t"))
    return pl.min_horizontal(spine, hip, radius)


def _previous(column: str) -> pl.Expr:
    """The patient's previous non-blank value of ``column`` (frame in date order)."""
    return pl.col(column).shift(1).forward_fill().over("patient_id")


def _exam_flags(frame: pl.DataFrame) -> pl.DataFrame:
    """One boolean column per exam-level situation (nulls read as no)."""
    lowest = pl.col(_LOWEST_T)
    who = pl.col(_BASIS) == "who"
    normal = who & (lowest >= -1.0)
    osteopenia = who & (lowest < -1.0) & (lowest > -2.5)
    treated = pl.col("on_treatment").fill_null(False)
    fragility = pl.col("prior_fragility_fracture").fill_null(False) | pl.col(
        "prior_fracture_sites"
    ).is_not_null()
    vertebral = pl.col("vertebral_fracture").fill_null(False)
    low_frax = (pl.col("frax_hip_pct") < 3) & (pl.col("frax_major_pct") < 20)
    hip_scanned = pl.col("femoral_neck_t").is_not_null() | pl.col("total_hip_t").is_not_null()
    spine_scanned = pl.col("spine_t").is_not_null()
    sides = pl.when(hip_scanned).then(pl.col("hip_side"))
    vertebrae = pl.when(spine_scanned).then(pl.col("spine_vertebrae").fill_null(4))
    glucocorticoids = (pl.col("glucocorticoid_mg_day") >= 7.5) & (
        pl.col("glucocorticoid_months") >= 3
    )
    return (
        frame.sort("patient_id", "exam_date", "exam_id")
        .with_columns(
            _lowest_t().alias(_LOWEST_T), _basis().alias(_BASIS), _side=sides, _vertebrae=vertebrae
        )
        .with_columns(
            fracture_sites_listed=pl.col("prior_fracture_sites").is_not_null(),
            fracture_site_not_recorded=pl.col("prior_fragility_fracture").fill_null(False)
            & pl.col("prior_fracture_sites").is_null(),
            hip_side_changed=pl.col("_side").is_not_null()
            & (pl.col("_side") != _previous("_side")),
            hip_side_not_recorded=hip_scanned & pl.col("hip_side").is_null(),
            vertebra_count_changed=pl.col("_vertebrae").is_not_null()
            & (pl.col("_vertebrae") != _previous("_vertebrae")),
            on_treatment=who & treated,
            on_treatment_normal_bmd=normal & treated,
            on_treatment_low_frax=osteopenia & treated & low_frax & ~fragility & ~vertebral,
            vertebral_fracture_normal_bmd=normal & vertebral,
            fracture_on_z_basis=(pl.col(_BASIS) == "z") & (fragility | vertebral),
            glucocorticoids_normal_bmd=normal & glucocorticoids,
            **_history_flags(who, lowest, glucocorticoids),
        )
    )


def _history_flags(who: pl.Expr, lowest: pl.Expr, glucocorticoids: pl.Expr
                   ) -> dict[str, pl.Expr]:
    """The version-3 situations (frame sorted by patient, date, exam id)."""
    patient = "patient_id"
    earlier_fx = (pl.col("prior_fragility_fracture").fill_null(False).cum_max().shift(1)
                  .over(patient).fill_null(False))
    earlier_op = ((who & (lowest <= -2.5)).fill_null(False).cum_max().shift(1)
                  .over(patient).fill_null(False))
    frax = pl.col("frax_major_pct").is_not_null()
    scores = [pl.col(f"{site}_{s}") for site in ("spine", "femoral_neck", "total_hip",
                                                 "radius_33") for s in ("t", "z")]
    bmd_only = pl.all_horizontal(c.is_null() for c in scores)
    maker = pl.col("scanner_manufacturer")
    return {
        "same_day_exams": pl.len().over(patient, "exam_date") > 1,
        "fracture_blank_after_yes": earlier_fx & pl.col("prior_fragility_fracture").is_null(),
        "fracture_no_after_yes": earlier_fx & (pl.col("prior_fragility_fracture") == False),  # noqa: E712
        "improved_from_osteoporosis": earlier_op & (lowest > -2.5),
        "frax_hip_3_to_5": who & pl.col("frax_hip_pct").is_between(3, 5),
        "glucocorticoid_frax": glucocorticoids & frax,
        "spine_hip_offset": frax & (pl.col("femoral_neck_t") - pl.col("spine_t") >= 0.5),
        "very_low_t": who & (lowest < -3.0),
        "bmd_only_hologic": bmd_only & (maker == "Hologic"),
        "bmd_only_no_manufacturer": bmd_only & maker.is_null(),
    }


def _patient_flags(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per patient with the patient-level situations."""
    ordered = frame.sort("patient_id", "exam_date", "exam_id")
    serial = pl.col("scanner_serial")
    in_between = (
        (serial.shift(2).over("patient_id") == serial)
        & (serial.shift(1).over("patient_id") != serial)
    ).fill_null(False)

    def slow(site: str, same_region: pl.Expr) -> pl.Expr:
        bmd = pl.col(f"{site}_bmd")
        lsc = DEFAULT_LSC[site]
        first, second, third = (bmd.get(i, null_on_oob=True) for i in range(3))
        steps = [100 * (second / first - 1), 100 * (third / second - 1)]
        overall = 100 * (third / first - 1)
        return (
            (pl.len() == 3)
            & (serial.n_unique() == 1)
            & (bmd.null_count() == 0)
            & same_region
            & (steps[0].abs() <= lsc)
            & (steps[1].abs() <= lsc)
            & (overall < -lsc)
        )

    one_side = (pl.col("hip_side").null_count() == 0) & (pl.col("hip_side").n_unique() == 1)
    one_count = pl.col("spine_vertebrae").fill_null(4).n_unique() == 1
    return ordered.group_by("patient_id", maintain_order=True).agg(
        other_scanner_in_between=in_between.any(),
        slow_loss=slow("total_hip", one_side) | slow("spine", one_count),
        _treated_last=pl.col("on_treatment").last().fill_null(False),
    ).with_columns(slow_loss_on_treatment=pl.col("slow_loss") & pl.col("_treated_last"))


def situation_counts(frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Per situation (in `SITUATIONS` order): (count, base), where the base is the number
    of exams or of patients in ``frame`` (a typed canonical frame without bad rows)."""
    exams = _exam_flags(frame)
    patients = _patient_flags(frame)
    out: dict[str, tuple[int, int]] = {}
    for situation in SITUATIONS:
        table = exams if situation.unit == "exams" else patients
        out[situation.name] = (int(table[situation.name].fill_null(False).sum()), table.height)
    return out
