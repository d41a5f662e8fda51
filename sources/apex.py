"""Hologic APEX table export: a folder of CSVs, one per APEX table, read whole.

Supported structure (see `docs`/vendor-exports.md): `Patient.csv`, `ScanAnalysis.csv`,
`ReferenceResults.csv` (required) and `Spine.csv`, `Hip.csv`, `Forearm.csv` (those the
export has scans for); file names case-insensitive, header = APEX column names (any
case), delimiter `,` `;` or TAB, UTF-8 or Windows-1252.

Mapping (all vectorised polars joins and group-bys):

* One exam = the scans of one PATIENT_KEY on one SCAN_DATE on one SERIAL_NUMBER;
  exam_id `APEX-{SERIAL_NUMBER}-{PATIENT_KEY}-{YYYYMMDD}`.
* SCAN_TYPE 1 AP spine, 2 left hip, 3 right hip, 6/7 forearm; other scan types (whole
  body, ...) are counted in `excluded["other_scan_types"]`.
* QC_SCAN true: phantom scans, counted in `excluded["qc_scans"]`.
* A SCANID with several ScanAnalysis rows: the latest ANALYSIS_DATE (then
  REANALYSIS_FLAG, then file order) wins; the others are counted in
  `excluded["superseded_analyses"]`. Measurement and ReferenceResults rows repeated for
  one SCANID (and BONERANGE): the last in file order is the current analysis.
* Two scans of the same kind in one exam (e.g. a repeated spine scan): the later
  ScanAnalysis row wins, counted in `excluded["repeated_scans"]`.
* Spine: TOT_BMD; vertebrae = the L1..L4_INCLUDED flags (else the digits of BONERANGE);
  T/Z from the ReferenceResults row of a spine BONERANGE (`1234`, `12.4`, ...; the widest
  if several). Hip: NECK_BMD + BONERANGE `1...`, HTOT_BMD + `123.`; with both hips
  scanned the hip whose lower of (neck T, total hip T) is lower is kept (ties: left) and
  `hip_side` says which. Forearm: R_13_BMD + BONERANGE `R..`.
* Patient: IDENTIFIER1 -> patient_id, BIRTHDATE, SEX (`F`/`M`; `FEMALE`/`MALE` and
  `W` accepted), HEIGHT (cm), WEIGHT (kg), BMI; MENOPAUSE_YEAR at or before the exam
  year -> menopausal_status `post` (otherwise not recorded). Risk-factor columns and
  FRAX are not in these tables: not recorded.
* An exam any of whose scans cannot be mapped (no Patient row, unreadable SCAN_DATE, no
  measurement row, unknown BONERANGE, ...) is rejected whole, its errors naming the
  table and key ("Spine SCANID 1043: unknown BONERANGE 'X1'"); measurement or reference
  rows whose SCANID is not in ScanAnalysis are rejected one by one.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sources.base import HOLOGIC_APEX, REJECTED_SCHEMA, ReadOptions, SourceFile, fingerprint
from transforms.columns import ROW_NUMBER
from transforms.errors import FileProblem
from transforms.read_csv import RAW, decode_text, detect_delimiter
from transforms.vendor_units import flag, iso_text, number, vendor_date, vendor_datetime

VENDOR = "Hologic"

#: table -> columns it must have.
REQUIRED_TABLES: dict[str, tuple[str, ...]] = {
    "Patient": ("PATIENT_KEY", "IDENTIFIER1", "BIRTHDATE", "SEX"),
    "ScanAnalysis": ("SCANID", "PATIENT_KEY", "SERIAL_NUMBER", "SCAN_DATE", "SCAN_TYPE"),
    "ReferenceResults": ("SCANID", "BONERANGE", "T_SCORE", "Z_SCORE"),
}
MEASUREMENT_TABLES: dict[str, tuple[str, ...]] = {
    "Spine": ("SCANID", "TOT_BMD"),
    "Hip": ("SCANID", "NECK_BMD", "HTOT_BMD"),
    "Forearm": ("SCANID", "R_13_BMD"),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "Patient": ("HEIGHT", "WEIGHT", "BMI", "MENOPAUSE_YEAR"),
    "ScanAnalysis": ("ANALYSIS_DATE", "REANALYSIS_FLAG", "QC_SCAN"),
    "Spine": ("L1_INCLUDED", "L2_INCLUDED", "L3_INCLUDED", "L4_INCLUDED"),
}

#: SCAN_TYPE -> (kind of scan, measurement table, hip side)
SCAN_TYPES = {
    "1": ("spine", "Spine", None),
    "2": ("hip", "Hip", "left"),
    "3": ("hip", "Hip", "right"),
    "6": ("forearm", "Forearm", None),
    "7": ("forearm", "Forearm", None),
}

_SPINE_RANGE = r"^[1.][2.][3.][4.]$"
_FOREARM_RANGE = r"^[A-Z.]{3}$"  # R.. one-third radius; other forearm regions unused


def _table_files(folder: Path) -> dict[str, Path]:
    wanted = {name.lower(): name for name in (*REQUIRED_TABLES, *MEASUREMENT_TABLES)}
    found: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        if child.is_file() and child.suffix.lower() == ".csv":
            name = wanted.get(child.stem.lower())
            if name is not None:
                found[name] = child
    return found


def sniff(path: Path) -> str | None:
    """None for a folder holding APEX Patient and ScanAnalysis tables."""
    if not path.is_dir():
        return "not an APEX export folder"
    tables = _table_files(path)
    if "Patient" not in tables or "ScanAnalysis" not in tables:
        return "folder has no Patient.csv and ScanAnalysis.csv (not an APEX export)"
    return None


def _read_table(name: str, path: Path) -> pl.DataFrame:
    text, _note = decode_text(path.read_bytes())
    if not text.strip():
        raise FileProblem(f"APEX table {name} is empty")
    try:
        frame = pl.read_csv(
            text.encode(), separator=detect_delimiter(text), infer_schema=False
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError):
        raise FileProblem(f"APEX table {name} is not a well-formed CSV") from None
    frame.columns = [c.replace("\ufeff", "").strip().upper() for c in frame.columns]
    wanted = {**REQUIRED_TABLES, **MEASUREMENT_TABLES}[name]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise FileProblem(f"APEX table {name} lacks column(s): {', '.join(missing)}")
    for column in OPTIONAL_COLUMNS.get(name, ()):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return frame.with_columns(
        pl.col(pl.String).str.strip_chars(), _order=pl.int_range(pl.len(), dtype=pl.Int64)
    )


def _read_tables(folder: Path) -> dict[str, pl.DataFrame]:
    files = _table_files(folder)
    missing = [name for name in REQUIRED_TABLES if name not in files]
    if missing:
        raise FileProblem(f"APEX export lacks table(s): {', '.join(missing)}")
    tables = {name: _read_table(name, path) for name, path in files.items()}
    for name, columns in MEASUREMENT_TABLES.items():
        if name not in tables:  # no scans of this kind exported
            tables[name] = pl.DataFrame(
                schema={c: pl.String for c in (*columns, *OPTIONAL_COLUMNS.get(name, ()))}
                | {"_order": pl.Int64}
            )
    return tables


def _last_per(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Keep the last row (file order) per key: the current analysis."""
    return frame.sort("_order").unique(subset=keys, keep="last", maintain_order=True)


def _orphans(table: str, frame: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """Rows of a measurement/reference table whose SCANID is not in ScanAnalysis."""
    lost = frame.join(known, on="SCANID", how="anti")
    return lost.select(
        exam_id=pl.lit(None, dtype=pl.String),
        errors=pl.format("{} SCANID {}: no ScanAnalysis row", pl.lit(table), pl.col("SCANID")),
        raw=pl.struct(pl.exclude("_order")).struct.json_encode(),
        _order=pl.col("_order"),
    )


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read an APEX export folder into one row of canonical text cells per exam."""
    options = options or ReadOptions()
    if not path.is_dir():
        raise FileProblem("an APEX export must be a folder of table CSVs")
    tables = _read_tables(path)
    excluded: dict[str, int] = {}
    notes: list[str] = []

    # --- scans: QC, other scan types, superseded analyses ------------------------------
    sa = tables["ScanAnalysis"].with_columns(
        _qc=flag(pl.col("QC_SCAN")).fill_null(False),
        _reanalysis=flag(pl.col("REANALYSIS_FLAG")).fill_null(False),
        _analysed=vendor_datetime(pl.col("ANALYSIS_DATE")),
        _type=pl.col("SCAN_TYPE").str.replace(r"\.0+$", ""),
    )
    all_scan_ids = sa.select("SCANID").unique()
    qc_ids = sa.filter(pl.col("_qc")).select("SCANID").unique()
    excluded["qc_scans"] = qc_ids.height
    sa = sa.join(qc_ids, on="SCANID", how="anti")
    other = sa.filter(~pl.col("_type").is_in(list(SCAN_TYPES))).select("SCANID").unique()
    if other.height:
        excluded["other_scan_types"] = other.height
    sa = sa.join(other, on="SCANID", how="anti")
    before = sa.height
    sa = sa.sort(["SCANID", "_analysed", "_reanalysis", "_order"], nulls_last=False).unique(
        subset="SCANID", keep="last", maintain_order=True
    )
    excluded["superseded_analyses"] = before - sa.height
    sa = sa.with_columns(
        _kind=pl.col("_type").replace_strict({k: v[0] for k, v in SCAN_TYPES.items()}),
        _table=pl.col("_type").replace_strict({k: v[1] for k, v in SCAN_TYPES.items()}),
        _side=pl.col("_type").replace_strict(
            {k: v[2] for k, v in SCAN_TYPES.items()}, return_dtype=pl.String
        ),
        _date=vendor_date(pl.col("SCAN_DATE"), options.date_format),
    )

    # --- patients -----------------------------------------------------------------------
    patients = (
        tables["Patient"]
        .sort("_order")
        .unique(subset="PATIENT_KEY", keep="first", maintain_order=True)
        .select(
            "PATIENT_KEY",
            _patient_found=pl.lit(True),
            patient_id=pl.col("IDENTIFIER1"),
            _birth=vendor_date(pl.col("BIRTHDATE"), options.date_format),
            _birth_text=pl.col("BIRTHDATE"),
            sex=pl.col("SEX")
            .str.to_uppercase()
            .replace({"FEMALE": "F", "MALE": "M", "W": "F"}),
            height_cm=pl.col("HEIGHT"),
            weight_kg=pl.col("WEIGHT"),
            bmi=pl.col("BMI"),
            _menopause_year=number(pl.col("MENOPAUSE_YEAR")),
        )
    )

    # --- measurements per scan ---------------------------------------------------------
    spine = _last_per(tables["Spine"], ["SCANID"]).select(
        "SCANID",
        _spine_bmd=pl.col("TOT_BMD"),
        _flags=pl.sum_horizontal(
            flag(pl.col(f"L{i}_INCLUDED")).cast(pl.Int64) for i in range(1, 5)
        ),
        _flags_known=pl.any_horizontal(
            flag(pl.col(f"L{i}_INCLUDED")).is_not_null() for i in range(1, 5)
        ),
        _spine_row=pl.lit(True),
    )
    hip = _last_per(tables["Hip"], ["SCANID"]).select(
        "SCANID", _neck_bmd=pl.col("NECK_BMD"), _total_bmd=pl.col("HTOT_BMD"),
        _hip_row=pl.lit(True),
    )
    forearm = _last_per(tables["Forearm"], ["SCANID"]).select(
        "SCANID", _radius_bmd=pl.col("R_13_BMD"), _forearm_row=pl.lit(True)
    )
    scans = (
        sa.join(spine, on="SCANID", how="left")
        .join(hip, on="SCANID", how="left")
        .join(forearm, on="SCANID", how="left")
    )

    # --- reference results (T, Z) by BONERANGE ------------------------------------------
    refs = _last_per(tables["ReferenceResults"], ["SCANID", "BONERANGE"]).join(
        sa.select("SCANID", "_kind", "_table"), on="SCANID", how="inner"
    )
    br = pl.col("BONERANGE")
    refs = refs.with_columns(
        _site=pl.when((pl.col("_kind") == "spine") & br.str.contains(_SPINE_RANGE) & (br != "...."))
        .then(pl.lit("spine"))
        .when((pl.col("_kind") == "hip") & (br == "1..."))
        .then(pl.lit("femoral_neck"))
        .when((pl.col("_kind") == "hip") & (br == "123."))
        .then(pl.lit("total_hip"))
        .when((pl.col("_kind") == "hip") & br.str.contains(_SPINE_RANGE))
        .then(pl.lit("unused"))
        .when((pl.col("_kind") == "forearm") & (br == "R.."))
        .then(pl.lit("radius_33"))
        .when((pl.col("_kind") == "forearm") & br.str.contains(_FOREARM_RANGE))
        .then(pl.lit("unused")),
        _digits=br.str.count_matches(r"\d"),
    )
    ref_errors = refs.filter(pl.col("_site").is_null()).group_by("SCANID").agg(
        _ref_errors=pl.format(
            "{} SCANID {}: unknown BONERANGE '{}'", pl.col("_table"), pl.col("SCANID"), br
        )
    )
    picked = (
        refs.filter(pl.col("_site").is_not_null() & (pl.col("_site") != "unused"))
        .sort(["_digits", "_order"])
        .unique(subset=["SCANID", "_site"], keep="last")
    )
    wide = picked.pivot(
        on="_site",
        index="SCANID",
        values=["T_SCORE", "Z_SCORE", "_digits"],
        aggregate_function="first",
    )
    for site in ("spine", "femoral_neck", "total_hip", "radius_33"):
        for value in ("T_SCORE", "Z_SCORE", "_digits"):
            name = f"{value}_{site}"
            if name not in wide.columns:
                wide = wide.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    scans = scans.join(wide, on="SCANID", how="left").join(ref_errors, on="SCANID", how="left")

    # --- per-scan problems -----------------------------------------------------------------
    scans = scans.join(patients, on="PATIENT_KEY", how="left")
    sid = pl.col("SCANID")
    has_row = (
        pl.when(pl.col("_kind") == "spine")
        .then(pl.col("_spine_row").is_not_null())
        .when(pl.col("_kind") == "hip")
        .then(pl.col("_hip_row").is_not_null())
        .otherwise(pl.col("_forearm_row").is_not_null())
    )
    problems = [
        pl.when(pl.col("_patient_found").is_null()).then(
            pl.format("ScanAnalysis SCANID {}: no Patient row with PATIENT_KEY {}", sid,
                      pl.col("PATIENT_KEY"))
        ),
        pl.when(pl.col("_date").is_null()).then(
            pl.format("ScanAnalysis SCANID {}: unreadable SCAN_DATE", sid)
        ),
        pl.when(pl.col("SERIAL_NUMBER").is_null()).then(
            pl.format("ScanAnalysis SCANID {}: no SERIAL_NUMBER", sid)
        ),
        pl.when(~has_row).then(pl.format("ScanAnalysis SCANID {}: no {} row", sid,
                                         pl.col("_table"))),
    ]
    scans = scans.with_columns(
        _errors=pl.concat_list(
            [pl.concat_list(problems).list.drop_nulls(),
             pl.col("_ref_errors").fill_null(pl.lit([], dtype=pl.List(pl.String)))]
        )
    )

    # --- exams --------------------------------------------------------------------------
    exam_key = ["PATIENT_KEY", "SERIAL_NUMBER", "_date"]
    scans = scans.with_columns(
        exam_id=pl.format(
            "APEX-{}-{}-{}",
            pl.col("SERIAL_NUMBER"),
            pl.col("PATIENT_KEY"),
            pl.coalesce(pl.col("_date").dt.to_string("%Y%m%d"), pl.col("SCAN_DATE")),
        ),
        _slot=pl.coalesce(pl.col("_side"), pl.col("_kind")),
    )
    before = scans.height
    current = scans.sort(["_analysed", "_order"], nulls_last=False).unique(
        subset=["exam_id", "_slot"], keep="last", maintain_order=True
    )
    if before - current.height:
        excluded["repeated_scans"] = before - current.height
    # Hips: keep the side whose lower T (neck, total hip) is lower; ties -> left.
    hips = current.filter(pl.col("_kind") == "hip").with_columns(
        _hip_t=pl.min_horizontal(
            number(pl.col("T_SCORE_femoral_neck")), number(pl.col("T_SCORE_total_hip"))
        )
    )
    both = hips.group_by("exam_id").len().filter(pl.col("len") > 1).height
    if both:
        notes.append(
            f"{both} exam(s) with both hips scanned: kept the hip with the lower T-score"
        )
    kept_hips = hips.sort(
        ["_hip_t", "_side"], nulls_last=True, descending=[False, False]
    ).unique(subset="exam_id", keep="first", maintain_order=True)
    current = pl.concat(
        [current.filter(pl.col("_kind") != "hip"), kept_hips.drop("_hip_t")],
        how="vertical_relaxed",
    )

    def site(kind: str, column: str) -> pl.Expr:
        return pl.col(column).filter(pl.col("_kind") == kind).first()

    vertebrae = pl.when(pl.col("_flags_known")).then(pl.col("_flags")).otherwise(
        pl.col("_digits_spine").cast(pl.Int64, strict=False)
    )
    current = current.with_columns(_vertebrae=vertebrae)
    exams = (
        current.group_by("exam_id")
        .agg(
            pl.col(c).first()
            for c in (*exam_key, "patient_id", "_birth", "_birth_text", "sex", "height_cm",
                      "weight_kg", "bmi", "_menopause_year", "_patient_found")
        )
        .join(
            current.group_by("exam_id").agg(
                _scan_ids=pl.col("SCANID").sort(),
                _errors=pl.col("_errors").list.explode(keep_nulls=False, empty_as_null=False),
                spine_bmd=site("spine", "_spine_bmd"),
                spine_t=site("spine", "T_SCORE_spine"),
                spine_z=site("spine", "Z_SCORE_spine"),
                spine_vertebrae=site("spine", "_vertebrae"),
                femoral_neck_bmd=site("hip", "_neck_bmd"),
                femoral_neck_t=site("hip", "T_SCORE_femoral_neck"),
                femoral_neck_z=site("hip", "Z_SCORE_femoral_neck"),
                total_hip_bmd=site("hip", "_total_bmd"),
                total_hip_t=site("hip", "T_SCORE_total_hip"),
                total_hip_z=site("hip", "Z_SCORE_total_hip"),
                hip_side=site("hip", "_side"),
                radius_33_bmd=site("forearm", "_radius_bmd"),
                radius_33_t=site("forearm", "T_SCORE_radius_33"),
                radius_33_z=site("forearm", "Z_SCORE_radius_33"),
            ),
            on="exam_id",
        )
        .sort(["_date", "PATIENT_KEY", "SERIAL_NUMBER", "exam_id"], nulls_last=True)
        .with_row_index(ROW_NUMBER, offset=1)
    )
    exam_year = pl.col("_date").dt.year()
    cells = exams.select(
        pl.col(ROW_NUMBER).cast(pl.Int64),
        "exam_id",
        "patient_id",
        exam_date=iso_text(pl.col("_date")),
        birth_date=pl.coalesce(iso_text(pl.col("_birth")), pl.col("_birth_text")),
        sex=pl.col("sex"),
        menopausal_status=pl.when(
            (pl.col("sex") == "F") & (pl.col("_menopause_year") <= exam_year)
        ).then(pl.lit("post")),
        height_cm=pl.col("height_cm"),
        weight_kg=pl.col("weight_kg"),
        bmi=pl.col("bmi"),
        scanner_manufacturer=pl.lit(VENDOR),
        scanner_serial=pl.col("SERIAL_NUMBER"),
        spine_bmd="spine_bmd",
        spine_t="spine_t",
        spine_z="spine_z",
        spine_vertebrae=pl.col("spine_vertebrae").cast(pl.String),
        femoral_neck_bmd="femoral_neck_bmd",
        femoral_neck_t="femoral_neck_t",
        femoral_neck_z="femoral_neck_z",
        total_hip_bmd="total_hip_bmd",
        total_hip_t="total_hip_t",
        total_hip_z="total_hip_z",
        hip_side="hip_side",
        radius_33_bmd="radius_33_bmd",
        radius_33_t="radius_33_t",
        radius_33_z="radius_33_z",
        _errors=pl.col("_errors"),
        _scan_ids=pl.col("_scan_ids"),
    )
    unit = [c for c in cells.columns if c not in (ROW_NUMBER, "_errors")]
    cells = cells.with_columns(pl.struct(unit).struct.json_encode().alias(RAW))
    bad = pl.col("_errors").list.len() > 0
    rejected_exams = cells.filter(bad).select(
        row_number=pl.col(ROW_NUMBER),
        exam_id=pl.col("exam_id"),
        errors=pl.col("_errors").list.unique(maintain_order=True).list.join("; "),
        raw=pl.col(RAW),
    )
    orphans = pl.concat(
        [
            _orphans(name, tables[name], all_scan_ids)
            for name in ("Spine", "Hip", "Forearm", "ReferenceResults")
        ]
    ).with_row_index("_n", offset=cells.height + 1)
    rejected = pl.concat(
        [
            rejected_exams,
            orphans.select(
                row_number=pl.col("_n").cast(pl.Int64), exam_id="exam_id", errors="errors",
                raw="raw",
            ),
        ]
    ).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
    good = cells.filter(~bad).drop("_errors", "_scan_ids")
    return SourceFile(
        path=path,
        sha256=fingerprint(path),
        source_format=HOLOGIC_APEX,
        vendor=VENDOR,
        cells=good,
        rejected=rejected,
        excluded=excluded,
        notes=notes,
    )
