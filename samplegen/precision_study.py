"""A precision study in the sample (ISCD: 30 patients scanned twice, or 15 three times, on
the same day, repositioned), with a known true precision, so that `dxa precision` can be
checked against the truth.

Why a function of its own: the main generator draws a population followed over years;
a precision study is a different situation (same-day repeats on one scanner), written to
its own file (`precision_study.csv`), and clinical rules version 3 adds more such
situations beside it.

Each study patient has a true BMD per site (from a T-score drawn around -1.5, on the
scanner's vendor reference); each scan measures true BMD x (1 + CV x N(0, 1)), where CV is
the scanner and site's true precision (`TRUE_CV_PCT`); T-scores follow the measured BMD.
Every scan holds the spine (4 vertebrae), the left femoral neck and total hip; the risk
questionnaire is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from samplegen._rng import Rng
from samplegen.model import LUNAR_SCALE, REFERENCE, SCANNERS, Scanner

#: The sites a study scan measures.
STUDY_SITES: tuple[str, ...] = ("spine", "total_hip", "femoral_neck")


@dataclass(frozen=True)
class Study:
    """One scanner's study: patients, scans per patient, first day, true %CV per site."""

    serial: str
    patients: int
    scans: int
    first_day: date
    true_cv_pct: dict[str, float]


#: The two studies: 30 x 2 on a Hologic, 15 x 3 on a GE Lunar (degrees of freedom 30 each).
STUDIES: tuple[Study, ...] = (
    Study("301457M", 30, 2, date(2025, 3, 3),
          {"spine": 1.0, "total_hip": 0.7, "femoral_neck": 1.2}),
    Study("200871", 15, 3, date(2025, 4, 7),
          {"spine": 1.2, "total_hip": 1.0, "femoral_neck": 1.8}),
)
#: The file the studies are written to, beside the exam files.
STUDY_FILE = "precision_study.csv"
#: Patient numbers of the studies start here (the population's are far below).
FIRST_PATIENT = 90_000_000


def _scanner(serial: str) -> Scanner:
    return next(s for s in SCANNERS if s.serial == serial)


def _study_scans(study: Study, seed: int, first_patient: int) -> pl.DataFrame:
    """One row per scan of one study: ids, date, scanner and each site's BMD and T."""
    scanner = _scanner(study.serial)
    lunar = scanner.manufacturer == "GE Lunar"
    frame = pl.DataFrame({"n": pl.int_range(study.patients, dtype=pl.UInt64, eager=True)})
    frame = frame.with_columns(s=pl.int_ranges(0, study.scans, dtype=pl.UInt64)).explode("s")
    patient = Rng(seed, pl.col("n") + first_patient)
    scan = Rng(seed, (pl.col("n") + first_patient) * 4 + pl.col("s"))
    columns: list[pl.Expr] = []
    for site in STUDY_SITES:
        a, b = REFERENCE[site]
        level = patient.normal("study_t", -1.5, 0.9) + patient.normal(f"study_t_{site}", 0, 0.4)
        true_t = level.clip(-4.0, 2.0)
        true_bmd = (a + b * true_t) * (LUNAR_SCALE[site] if lunar else 1.0)
        cv = study.true_cv_pct[site] / 100
        bmd = (true_bmd * (1 + cv * scan.normal(f"study_scan_{site}"))).round(3)
        hologic_bmd = bmd / LUNAR_SCALE[site] if lunar else bmd
        columns += [bmd.alias(f"{site}_bmd"), ((hologic_bmd - a) / b).round(1).alias(f"{site}_t")]
    number = pl.col("n").cast(pl.Int64) + first_patient
    return frame.with_columns(columns).with_columns(
        exam_id=pl.format("EX{}-{}", pl.lit(seed),
                          (number * 4 + pl.col("s").cast(pl.Int64)).cast(pl.String)),
        patient_id=pl.format("P{}-{}", pl.lit(seed), number.cast(pl.String)),
        exam_date=pl.lit(study.first_day) + pl.duration(days=(pl.col("n") % 20).cast(pl.Int64)),
        age_years=patient.integers("study_age", 50, 80).cast(pl.Float64),
        sex=pl.lit("F"), menopausal_status=pl.lit("post"),
        scanner_manufacturer=pl.lit(scanner.manufacturer),
        scanner_model=pl.lit(scanner.model), scanner_serial=pl.lit(scanner.serial),
        spine_vertebrae=pl.lit(4, dtype=pl.Int64), hip_side=pl.lit("left"),
    ).drop("n", "s")


def precision_study_exams(seed: int, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Every study's scans, typed as `schema` (the generator's columns; what a study does
    not record is null), in exam-date and exam-id order."""
    parts = [
        _study_scans(study, seed, FIRST_PATIENT + 1000 * index)
        for index, study in enumerate(STUDIES)
    ]
    scans = pl.concat(parts)
    return scans.select(
        (pl.col(name) if name in scans.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    ).sort("exam_date", "exam_id")


def precision_truth() -> dict[str, dict[str, float]]:
    """{scanner serial: {site: true %CV}}: what `dxa precision` should recover."""
    return {study.serial: dict(study.true_cv_pct) for study in STUDIES}
