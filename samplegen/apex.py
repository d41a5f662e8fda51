"""Hologic APEX table exports built from canonical exams (for fixtures and sample data).

`apex_export(frame, seed)` gives the six APEX tables that `sources.apex` reads for the
Hologic exams of `frame` (one ScanAnalysis row per scan: spine, the exam's hip, the 33%
radius; measurement rows in Spine / Hip / Forearm and T/Z rows in ReferenceResults by
BONERANGE, each keyed by PATIENT_KEY and SCANID as in APEX) and their canonical twin:
the same exams as a canonical frame holding exactly what the tables carry. To exercise
the adapter it also writes, drawn from `seed`: the contralateral hip (higher T, so the
canonical hip is still the one kept) for about a third of hip exams, one reanalysed
spine scan (an earlier ScanAnalysis row superseded by a later reanalysis; APEX keeps
only the current results in the measurement tables) and one QC phantom scan.

The twin, what an APEX export can carry of a canonical exam: exam_id is APEX's
`APEX-{serial}-{PATIENT_KEY}-{YYYYMMDD}`; height, weight and BMI are the patient's (the
last exam's values, kept on the Patient row); the birth date only (made up from the
first exam's age, six months past a birthday, when the canonical frame has none; age
null); menopausal_status `post` from MENOPAUSE_YEAR (the year before the first
post-menopausal exam), otherwise null; a spine without vertebra count is written as
L1-L4; a hip without side as the right hip; no scanner model, risk-factor questionnaire,
treatment or FRAX (null). Loading the twin as a canonical CSV and the tables as an APEX
export must give the same registry rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from samplegen._rng import Rng
from samplegen.twin import as_canonical, site_columns

_RANGES = {4: "1234", 3: "12.4", 2: "12..", 1: "1..."}


def _fmt(expr: pl.Expr, digits: int) -> pl.Expr:
    return (expr.round(digits) + 0.0).cast(pl.String)


def _flags(n: pl.Expr, vertebra: int) -> pl.Expr:
    """L{vertebra}_INCLUDED for a vertebra count written as in `_RANGES`."""
    included = {4: (1, 2, 3, 4), 3: (1, 2, 4), 2: (1, 2), 1: (1,)}
    counts = [k for k, v in included.items() if vertebra in v]
    return pl.when(n.is_null()).then(None).when(n.is_in(counts)).then(pl.lit("1")).otherwise(
        pl.lit("0")
    )


@dataclass(frozen=True)
class ApexExport:
    """The APEX tables (text cells, by table name) and their canonical twin (typed)."""

    tables: dict[str, pl.DataFrame]
    twin: pl.DataFrame


def apex_tables(frame: pl.DataFrame, seed: int, **options: object) -> dict[str, pl.DataFrame]:
    """The APEX tables (text cells) for the Hologic exams of `frame`."""
    return apex_export(frame, seed, **options).tables  # type: ignore[arg-type]


def apex_export(
    frame: pl.DataFrame,
    seed: int,
    *,
    both_hips_share: float = 0.3,
    qc_scan: bool = True,
    reanalysis: bool = True,
) -> ApexExport:
    """The APEX tables for the Hologic exams of `frame` and their canonical twin."""
    exams = frame.filter(pl.col("scanner_manufacturer") == "Hologic").with_row_index("_i")
    rng = Rng(seed, pl.col("_i").cast(pl.UInt64))
    # --- Patient ------------------------------------------------------------------------
    first = exams.group_by("patient_id", maintain_order=True).agg(
        _birth=pl.col("birth_date").drop_nulls().first(),
        _first_date=pl.col("exam_date").first(),
        _first_age=pl.col("age_years").first(),
        sex=pl.col("sex").first(),
        height=pl.col("height_cm").last(),
        weight=pl.col("weight_kg").last(),
        bmi=pl.col("bmi").last(),
        _menopause_year=pl.col("exam_date")
        .filter(pl.col("menopausal_status") == "post")
        .dt.year()
        .min()
        - 1,
    )
    made_up = pl.col("_first_date").dt.offset_by(
        pl.format("-{}y6mo", pl.col("_first_age").cast(pl.Int64))
    )
    first = first.with_columns(_birth=pl.coalesce("_birth", made_up))
    patients = first.with_row_index("_k", offset=101).select(
        PATIENT_KEY=pl.col("_k").cast(pl.String),
        IDENTIFIER1="patient_id",
        BIRTHDATE=pl.col("_birth").dt.to_string("%Y-%m-%d 00:00:00"),
        SEX="sex",
        ETHNICITY=pl.lit("W"),
        HEIGHT=_fmt(pl.col("height"), 1),
        WEIGHT=_fmt(pl.col("weight"), 1),
        MENOPAUSE_YEAR=pl.col("_menopause_year").cast(pl.String),
        BMI=_fmt(pl.col("bmi"), 1),
    )
    exams = exams.join(
        patients.select("PATIENT_KEY", patient_id="IDENTIFIER1"), on="patient_id",
        maintain_order="left",
    ).with_columns(
        _both=rng.uniform("apex_both_hips") < both_hips_share,
        _other_side=pl.when(pl.col("hip_side") == "left").then(pl.lit("3")).otherwise(pl.lit("2")),
        _own_side=pl.when(pl.col("hip_side") == "left").then(pl.lit("2")).otherwise(pl.lit("3")),
    )

    # --- one row per scan ---------------------------------------------------------------
    common = ["_i", "PATIENT_KEY", "scanner_serial", "exam_date"]
    spine = exams.filter(pl.col("spine_t").is_not_null()).select(
        *common, SCAN_TYPE=pl.lit("1"), _order=pl.lit(0),
        _bmd=pl.col("spine_bmd"), _t=pl.col("spine_t"), _z=pl.col("spine_z"),
        _n=pl.col("spine_vertebrae").fill_null(4),  # the device always knows: L1-L4 default
        _neck_bmd=None, _neck_t=None, _neck_z=None,
    )
    hip_cols = dict(
        _bmd=pl.col("total_hip_bmd"), _t=pl.col("total_hip_t"), _z=pl.col("total_hip_z"),
        _n=pl.lit(None, dtype=pl.Int64),
        _neck_bmd=pl.col("femoral_neck_bmd"), _neck_t=pl.col("femoral_neck_t"),
        _neck_z=pl.col("femoral_neck_z"),
    )
    hips = exams.filter(pl.col("femoral_neck_t").is_not_null())
    own_hip = hips.select(*common, SCAN_TYPE="_own_side", _order=pl.lit(1), **hip_cols)
    other_hip = hips.filter("_both").select(
        *common, SCAN_TYPE="_other_side", _order=pl.lit(2),
        _bmd=pl.col("total_hip_bmd") + 0.05, _t=pl.col("total_hip_t") + 0.4,
        _z=pl.col("total_hip_z") + 0.4, _n=pl.lit(None, dtype=pl.Int64),
        _neck_bmd=pl.col("femoral_neck_bmd") + 0.05, _neck_t=pl.col("femoral_neck_t") + 0.4,
        _neck_z=pl.col("femoral_neck_z") + 0.4,
    )
    radius = exams.filter(pl.col("radius_33_t").is_not_null()).select(
        *common, SCAN_TYPE=pl.lit("6"), _order=pl.lit(3),
        _bmd=pl.col("radius_33_bmd"), _t=pl.col("radius_33_t"), _z=pl.col("radius_33_z"),
        _n=pl.lit(None, dtype=pl.Int64),
        _neck_bmd=None, _neck_t=None, _neck_z=None,
    )
    scans = (
        pl.concat([spine, own_hip, other_hip, radius], how="vertical_relaxed")
        .sort(["_i", "_order"])
        .with_row_index("_s", offset=1001)
        .with_columns(
            SCANID=pl.col("_s").cast(pl.String),
            _stamp=(
                pl.col("exam_date").cast(pl.Datetime("us"))
                + pl.duration(hours=9, minutes=pl.col("_order") * 7)
            ).dt.to_string("%Y-%m-%d %H:%M:%S"),
            _range=pl.col("_n").replace_strict(_RANGES, default=None, return_dtype=pl.String),
        )
    )
    scan_analysis = scans.select(
        "SCANID", "PATIENT_KEY", SERIAL_NUMBER="scanner_serial", SCAN_DATE="_stamp",
        SCAN_TYPE="SCAN_TYPE", ANALYSIS_DATE="_stamp", SW_VERSION=pl.lit("13.6.0.4"),
        REANALYSIS_FLAG=pl.lit("0"), QC_SCAN=pl.lit("0"),
        ACCESSION_NO=pl.format("ACC{}", pl.col("SCANID")),
    )
    key = ["SCANID", "PATIENT_KEY", pl.col("scanner_serial").alias("SERIAL_NUMBER")]
    sp = scans.filter(pl.col("SCAN_TYPE") == "1")
    spine_t = sp.select(
        *key,
        *[_flags(pl.col("_n"), v).alias(f"L{v}_INCLUDED") for v in range(1, 5)],
        *[_fmt(pl.col("_bmd") * (0.96 + 0.02 * v), 3).alias(f"L{v}_BMD") for v in range(1, 5)],
        TOT_AREA=pl.lit("61.2"), TOT_BMC=_fmt(pl.col("_bmd") * 61.2, 2),
        TOT_BMD=_fmt(pl.col("_bmd"), 3),
    )
    hp = scans.filter(pl.col("SCAN_TYPE").is_in(["2", "3"]))
    hip_t = hp.select(
        *key, NECK_AREA=pl.lit("5.1"), NECK_BMC=_fmt(pl.col("_neck_bmd") * 5.1, 2),
        NECK_BMD=_fmt(pl.col("_neck_bmd"), 3), TROCH_BMD=_fmt(pl.col("_neck_bmd") * 0.9, 3),
        INTER_BMD=_fmt(pl.col("_neck_bmd") * 1.2, 3), WARDS_BMD=_fmt(pl.col("_neck_bmd") * 0.7, 3),
        HTOT_AREA=pl.lit("33.4"), HTOT_BMC=_fmt(pl.col("_bmd") * 33.4, 2),
        HTOT_BMD=_fmt(pl.col("_bmd"), 3),
    )
    fa = scans.filter(pl.col("SCAN_TYPE") == "6")
    forearm_t = fa.select(
        *key, R_13_AREA=pl.lit("2.9"), R_13_BMC=_fmt(pl.col("_bmd") * 2.9, 2),
        R_13_BMD=_fmt(pl.col("_bmd"), 3), R_UD_BMD=_fmt(pl.col("_bmd") * 0.6, 3),
        R_MID_BMD=_fmt(pl.col("_bmd") * 0.85, 3),
    )

    def ref(frame: pl.DataFrame, bonerange: pl.Expr, t: str, z: str) -> pl.DataFrame:
        return frame.filter(pl.col(t).is_not_null()).select(
            *key, REF_TYPE=pl.lit("USA"), BONERANGE=bonerange,
            T_SCORE=_fmt(pl.col(t), 1), Z_SCORE=_fmt(pl.col(z), 1),
            PCT_T=_fmt(100 + pl.col(t) * 10, 0), PCT_Z=_fmt(100 + pl.col(z) * 10, 0),
        )

    refs = pl.concat(
        [
            ref(sp, pl.col("_range"), "_t", "_z"),
            ref(hp, pl.lit("1..."), "_neck_t", "_neck_z"),
            ref(hp, pl.lit(".2.."), "_neck_t", "_neck_z"),  # trochanter: read, unused
            ref(hp, pl.lit("123."), "_t", "_z"),
            ref(fa, pl.lit("R.."), "_t", "_z"),
        ]
    ).sort("SCANID", maintain_order=True)
    tables = {
        "Patient": patients,
        "ScanAnalysis": scan_analysis,
        "Spine": spine_t,
        "Hip": hip_t,
        "Forearm": forearm_t,
        "ReferenceResults": refs,
    }
    if reanalysis and spine_t.height:
        tables = _add_reanalysis(tables, spine_t["SCANID"][0])
    if qc_scan:
        tables = _add_qc_scan(tables, scan_analysis)
    return ApexExport(tables, _twin(exams, first))


def _twin(exams: pl.DataFrame, patients: pl.DataFrame) -> pl.DataFrame:
    """The canonical exams as the APEX tables carry them (see the module docstring)."""
    per_patient = patients.select(
        "patient_id", "_birth", "_menopause_year",
        _height=pl.col("height").round(1),
        _weight=pl.col("weight").round(1),
        _bmi=pl.col("bmi").round(1),
    )
    exams = exams.join(per_patient, on="patient_id", maintain_order="left").sort("_i")
    spine = pl.col("spine_t").is_not_null()
    hip = pl.col("femoral_neck_t").is_not_null()
    radius = pl.col("radius_33_t").is_not_null()

    carried = [
        pl.format("APEX-{}-{}-{}", pl.col("scanner_serial"), pl.col("PATIENT_KEY"),
                  pl.col("exam_date").dt.to_string("%Y%m%d")).alias("exam_id"),
        "patient_id", "exam_date", pl.col("_birth").alias("birth_date"), "sex",
        pl.when(
            (pl.col("sex") == "F") & (pl.col("_menopause_year") <= pl.col("exam_date").dt.year())
        ).then(pl.lit("post")).alias("menopausal_status"),
        pl.col("_height").alias("height_cm"), pl.col("_weight").alias("weight_kg"),
        pl.col("_bmi").alias("bmi"), "scanner_manufacturer", "scanner_serial",
        *site_columns(spine, hip, hip, radius, hip_side="right"),
    ]
    return as_canonical(exams.select(carried))


def _add_reanalysis(tables: dict[str, pl.DataFrame], scan_id: str) -> dict[str, pl.DataFrame]:
    """Scan `scan_id` was reanalysed two days later: the first ScanAnalysis row is the
    superseded analysis; the measurement tables hold the current results only (APEX
    overwrites them), so they are unchanged."""
    sa = tables["ScanAnalysis"]
    redo = sa.filter(pl.col("SCANID") == scan_id).with_columns(
        ANALYSIS_DATE=(
            pl.col("ANALYSIS_DATE").str.to_datetime("%Y-%m-%d %H:%M:%S") + pl.duration(days=2)
        ).dt.to_string("%Y-%m-%d %H:%M:%S"),
        REANALYSIS_FLAG=pl.lit("1"),
    )
    return {**tables, "ScanAnalysis": pl.concat([sa, redo])}


def _add_qc_scan(
    tables: dict[str, pl.DataFrame], scan_analysis: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """A spine phantom scan on the first scan date of the first scanner."""
    out = dict(tables)
    template = scan_analysis.head(1)
    if template.height == 0:
        return out
    phantom = tables["Patient"].head(1).with_columns(
        PATIENT_KEY=pl.lit("1"), IDENTIFIER1=pl.lit("PHANTOM"), SEX=pl.lit("M"),
        HEIGHT=None, WEIGHT=None, MENOPAUSE_YEAR=None, BMI=None,
    )
    out["Patient"] = pl.concat([phantom, tables["Patient"]], how="vertical_relaxed")
    qc = template.with_columns(
        SCANID=pl.lit("1000"), PATIENT_KEY=pl.lit("1"), SCAN_TYPE=pl.lit("1"),
        QC_SCAN=pl.lit("1"), ACCESSION_NO=None,
    )
    out["ScanAnalysis"] = pl.concat([qc, tables["ScanAnalysis"]], how="vertical_relaxed")
    serial = template["SERIAL_NUMBER"][0]
    key = {"SCANID": ["1000"], "PATIENT_KEY": ["1"], "SERIAL_NUMBER": [serial]}
    spine_row = pl.DataFrame({**key, "TOT_BMD": ["1.028"]})
    out["Spine"] = pl.concat([spine_row, tables["Spine"]], how="diagonal")
    ref_row = pl.DataFrame(
        {**key, "REF_TYPE": ["USA"], "BONERANGE": ["1234"],
         "T_SCORE": ["-0.2"], "Z_SCORE": [None], "PCT_T": [None], "PCT_Z": [None]},
        schema={c: pl.String for c in tables["ReferenceResults"].columns},
    )
    out["ReferenceResults"] = pl.concat([ref_row, tables["ReferenceResults"]])
    return out


def write_apex_export(
    frame: pl.DataFrame, folder: Path, seed: int, **options: object
) -> pl.DataFrame:
    """Write the APEX tables for the Hologic exams of `frame` into `folder` (created).

    Returns the canonical twin: the exams as the export carries them (module docstring).
    """
    folder.mkdir(parents=True, exist_ok=True)
    export = apex_export(frame, seed, **options)  # type: ignore[arg-type]
    for name, table in export.tables.items():
        table.write_csv(folder / f"{name}.csv")
    return export.twin


def main(argv: list[str] | None = None) -> None:
    """`python -m samplegen.apex FOLDER [--exams N] [--seed S]`: write one APEX export."""
    import argparse

    from samplegen.canonical import generate_exams

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--exams", type=int, default=80, help="canonical exams to draw")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    written = write_apex_export(generate_exams(args.exams, args.seed), args.folder, args.seed)
    print(f"{written.height} Hologic exams -> {args.folder}")


if __name__ == "__main__":
    main()
