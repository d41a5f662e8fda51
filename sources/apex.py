"""Hologic APEX table export: a folder of CSVs, one per APEX table, read whole.

Supported structure (see `docs`/vendor-exports.md): `Patient.csv`, `ScanAnalysis.csv`,
`ReferenceResults.csv` (required) and `Spine.csv`, `Hip.csv`, `Forearm.csv` (those the
export has scans for); file names case-insensitive, header = APEX column names (any
case), delimiter `,` `;` or TAB, UTF-8 or Windows-1252. A folder holding two or more of
these six table names is taken as an APEX export: one that lacks a required table fails
alone ("APEX export lacks table(s): Patient"), rather than being read as loose CSVs.

Mapping (all vectorised polars joins and group-bys; file order never picks a value):

* Rows link by key: measurement and reference rows to their scan on (PATIENT_KEY,
  SCANID) when the table has a PATIENT_KEY column, else on SCANID; scans to patients on
  PATIENT_KEY. A measurement table carries the scan's current analysis (APEX overwrites
  results on reanalysis), so one row per scan (and BONERANGE) is expected.
* Duplicates: an exact duplicate row of any table is dropped and counted in
  `excluded["duplicate_<Table>_rows"]`; rows that share a key but differ (two Spine
  rows for one scan, two Patient rows for one PATIENT_KEY, two ReferenceResults rows for
  one scan and BONERANGE) have no silent winner: the exams they touch are rejected.
* One exam = the scans of one PATIENT_KEY on one SCAN_DATE on one SERIAL_NUMBER;
  exam_id `APEX-{SERIAL_NUMBER}-{PATIENT_KEY}-{YYYYMMDD}`. A scan without SERIAL_NUMBER,
  PATIENT_KEY or a readable SCAN_DATE has no exam id: it is rejected on its own.
* SCAN_TYPE 1 AP spine, 2 left hip, 3 right hip, 6/7 forearm; other scan types (whole
  body, ...) are counted in `excluded["other_scan_types"]`; QC_SCAN true (phantom scans)
  in `excluded["qc_scans"]`; Patient rows no scan refers to in
  `excluded["patients_without_scans"]`.
* A scan with several ScanAnalysis rows: the latest ANALYSIS_DATE (then REANALYSIS_FLAG)
  is current, the others are counted in `excluded["superseded_analyses"]`; two rows
  that tie on both reject the exam.
* Two scans of the same kind (and side) in one exam: the later SCAN_DATE (then
  ANALYSIS_DATE) is kept, the other counted in `excluded["repeated_scans"]` (a tie
  rejects the exam). With both hips scanned the hip whose lower of (neck T, total hip T)
  is lower is kept (ties: left), `hip_side` says which, and the other is counted in
  `excluded["contralateral_hips"]`. The errors of every scan of an exam, kept or not,
  decide whether the exam is loaded.
* Spine: TOT_BMD; vertebrae = the L1..L4_INCLUDED flags (else the digits of BONERANGE);
  T/Z from the ReferenceResults row of a spine BONERANGE (`1234`, `12.4`, ...; the widest
  if several). Hip: NECK_BMD + BONERANGE `1...`, HTOT_BMD + `123.`. Forearm: R_13_BMD +
  BONERANGE `R..`.
* Patient: IDENTIFIER1 -> patient_id, BIRTHDATE, SEX (`F`/`M`; `FEMALE`/`MALE` and
  `W` accepted), HEIGHT (cm), WEIGHT (kg), BMI; MENOPAUSE_YEAR at or before the exam
  year -> menopausal_status `post` (otherwise not recorded). Risk-factor columns and
  FRAX are not in these tables: not recorded.
* Errors (reason codes worded in `schemas.reasons`) name the table and its row number
  (1 = first data row), never a key or identifier value. An exam with any
  error is rejected whole; measurement or reference rows that link to no ScanAnalysis
  row, and ScanAnalysis rows without SCANID, are rejected one by one.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schemas.columns import SITES
from schemas.reasons import (
    REASON_STRUCT,
    explode_reasons,
    quarantine_rows,
    reason_expr,
    table_row,
    table_rows,
)
from sources.base import HOLOGIC_APEX, ReadOptions, SourceFile, fingerprint
from sources.read_csv import decode_text, detect_delimiter
from sources.vendor_units import flag, iso_text, number, vendor_date, vendor_datetime
from transforms.columns import RAW, ROW_NUMBER
from transforms.errors import FileProblem

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
#: A folder with at least this many APEX table names is an APEX export (attempt).
MIN_TABLES_FOR_APEX = 2

#: SCAN_TYPE -> (kind of scan, measurement table, hip side)
SCAN_TYPES = {
    "1": ("spine", "Spine", None),
    "2": ("hip", "Hip", "left"),
    "3": ("hip", "Hip", "right"),
    "6": ("forearm", "Forearm", None),
    "7": ("forearm", "Forearm", None),
}

ROW = "_row"  # 1 = first data row of a table's CSV: what error messages cite
SCAN_KEY = ["PATIENT_KEY", "SCANID"]

_SPINE_RANGE = r"^[1.][2.][3.][4.]$"
_FOREARM_RANGE = r"^[A-Z.]{3}$"  # R.. one-third radius; other forearm regions unused
_NO_ERRORS = pl.lit([], dtype=pl.List(REASON_STRUCT))


# --- folder and tables ------------------------------------------------------------------


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
    """None for a folder holding two or more APEX table CSVs (any case).

    Two names, not Patient + ScanAnalysis, so that an export missing one of those is
    still recognised and fails with the table it lacks instead of "unrecognised".
    """
    if not path.is_dir():
        return "not an APEX export folder"
    if len(_table_files(path)) < MIN_TABLES_FOR_APEX:
        return "folder holds fewer than two APEX table CSVs (Patient, ScanAnalysis, ...)"
    return None


def _read_table(name: str, path: Path) -> pl.DataFrame:
    """One table as text, upper-case column names, blanks as null, `_row` numbered."""
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
        [pl.col(c).str.strip_chars().replace("", None) for c in frame.columns],
    ).with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW))


def _read_tables(folder: Path) -> dict[str, pl.DataFrame]:
    files = _table_files(folder)
    missing = [name for name in REQUIRED_TABLES if name not in files]
    if missing:
        raise FileProblem(f"APEX export lacks table(s): {', '.join(missing)}")
    tables = {name: _read_table(name, path) for name, path in files.items()}
    for name, columns in MEASUREMENT_TABLES.items():
        if name not in tables:  # no scans of this kind exported
            tables[name] = pl.DataFrame(
                schema={c: pl.String for c in (*SCAN_KEY, *columns,
                                               *OPTIONAL_COLUMNS.get(name, ()))}
                | {ROW: pl.Int64}
            )
    return tables


def _link_keys(frame: pl.DataFrame) -> list[str]:
    """(PATIENT_KEY, SCANID) where the table has both, else SCANID: SCANIDs are unique
    per scanner database only, so the patient key disambiguates merged exports."""
    return SCAN_KEY if "PATIENT_KEY" in frame.columns else ["SCANID"]


# --- messages -----------------------------------------------------------------------------


def _where(table: str, rows: pl.Expr) -> pl.Expr:
    """`Spine row 4` / `Spine rows 4, 9`: where the problem is (`schemas.reasons`)."""
    return table_rows(table, rows)


def _at(table: str) -> pl.Expr:
    """`ScanAnalysis row 4` for the row in hand."""
    return table_row(table, pl.col(ROW))


def _reason(code: str, table: str, where: pl.Expr, **values: pl.Expr | str) -> pl.Expr:
    """A reason (`schemas.reasons`) about `table`, at `where` (its row or rows)."""
    return reason_expr(code, table, where=where, **values)


def _rejected_rows(frame: pl.DataFrame, reason: pl.Expr, order: int) -> pl.DataFrame:
    """Input rows rejected one by one (no exam), in table then row order."""
    return frame.select(
        exam_id=pl.lit(None, dtype=pl.String),
        reason=reason,
        raw=pl.struct(pl.exclude(ROW)).struct.json_encode(),
        _table_order=pl.lit(order, dtype=pl.Int64),
        _source_row=pl.col(ROW),
    )


# --- duplicates and links -------------------------------------------------------------------


def _drop_exact_duplicates(
    name: str, frame: pl.DataFrame, excluded: dict[str, int]
) -> pl.DataFrame:
    """Identical rows say nothing new: keep one, count the rest (never silently)."""
    data = [c for c in frame.columns if c != ROW]
    unique = frame.sort(ROW).unique(subset=data, keep="first", maintain_order=True)
    if frame.height - unique.height:
        excluded[f"duplicate_{name}_rows"] = frame.height - unique.height
    return unique


def _link(
    name: str, frame: pl.DataFrame, known: pl.DataFrame, order: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a measurement/reference table into rows that link to a ScanAnalysis row
    and rejected rows (a blank key, or a key no ScanAnalysis row has)."""
    keys = _link_keys(frame)
    blank = pl.coalesce(
        [pl.when(pl.col(k).is_null()).then(pl.lit(k)) for k in ("SCANID", "PATIENT_KEY")
         if k in keys]
    )
    unkeyed = frame.filter(blank.is_not_null())
    keyed = frame.filter(blank.is_null())
    known_keys = known.select(keys).drop_nulls().unique()
    lost = keyed.join(known_keys, on=keys, how="anti")
    rejected = pl.concat([
        _rejected_rows(unkeyed, _reason("APEX_MISSING_VALUE", name, _at(name), field=blank),
                       order),
        _rejected_rows(
            lost, _reason("APEX_NO_SCAN", name, _at(name), field=" and ".join(keys)), order
        ),
    ])
    return keyed.join(known_keys, on=keys, how="semi"), rejected


# --- scans ------------------------------------------------------------------------------------


def _current_analyses(
    sa: pl.DataFrame, options: ReadOptions, excluded: dict[str, int]
) -> pl.DataFrame:
    """One row per patient scan: QC and other scan types set aside, the latest analysis.

    A tie between analyses (same ANALYSIS_DATE and REANALYSIS_FLAG) is an error of the
    scan (`_sa_error`), never decided by file order.
    """
    sa = sa.with_columns(
        _qc=flag(pl.col("QC_SCAN")).fill_null(False),
        _reanalysis=flag(pl.col("REANALYSIS_FLAG")).fill_null(False),
        _analysed=vendor_datetime(pl.col("ANALYSIS_DATE")),
        _type=pl.col("SCAN_TYPE").str.replace(r"\.0+$", ""),
        _scanid_shared=pl.col("PATIENT_KEY").n_unique().over("SCANID") > 1,
    )
    qc = pl.col("_qc").any().over(SCAN_KEY)
    excluded["qc_scans"] = sa.filter(qc).select(SCAN_KEY).unique().height
    sa = sa.filter(~qc)
    other = (
        pl.col("_type").is_not_null() & ~pl.col("_type").is_in(list(SCAN_TYPES))
    ).any().over(SCAN_KEY)
    n_other = sa.filter(other).select(SCAN_KEY).unique().height
    if n_other:
        excluded["other_scan_types"] = n_other
    sa = sa.filter(~other)
    latest = pl.col("_analysed").eq_missing(pl.col("_analysed").max().over(SCAN_KEY))
    sa = sa.with_columns(_top=latest)
    sa = sa.with_columns(
        _top=pl.col("_top")
        & (pl.col("_reanalysis") == pl.col("_reanalysis").filter("_top").max().over(SCAN_KEY))
    )
    excluded["superseded_analyses"] = sa.filter(~pl.col("_top")).height
    top = sa.filter("_top").sort(ROW)
    rows = top.group_by(SCAN_KEY).agg(_sa_rows=pl.col(ROW))
    current = top.unique(subset=SCAN_KEY, keep="first", maintain_order=True).join(
        rows, on=SCAN_KEY, nulls_equal=True
    )
    table = {k: v[1] for k, v in SCAN_TYPES.items()}
    return current.with_columns(
        _sa_error=pl.when(pl.col("_sa_rows").list.len() > 1).then(
            _reason("APEX_CONFLICTING_ROWS", "ScanAnalysis",
                    _where("ScanAnalysis", pl.col("_sa_rows")), what="analyses of one scan")
        ),
        _kind=pl.col("_type").replace_strict({k: v[0] for k, v in SCAN_TYPES.items()}),
        _table=pl.col("_type").replace_strict(table),
        _side=pl.col("_type").replace_strict(
            {k: v[2] for k, v in SCAN_TYPES.items()}, return_dtype=pl.String
        ),
        _date=vendor_date(pl.col("SCAN_DATE"), options.date_format),
        _scan_time=vendor_datetime(pl.col("SCAN_DATE")),
    )


def _patients(
    patient: pl.DataFrame, scan_rows: pl.DataFrame, options: ReadOptions,
    excluded: dict[str, int],
) -> pl.DataFrame:
    """One row per PATIENT_KEY; two differing rows for one key -> `_patient_error`
    and no patient values (no silent winner)."""
    referenced = patient["PATIENT_KEY"].is_in(scan_rows["PATIENT_KEY"].drop_nulls().implode())
    unused = patient.height - int(referenced.sum())
    if unused:
        excluded["patients_without_scans"] = unused
    keyed = patient.filter(pl.col("PATIENT_KEY").is_not_null()).sort(ROW)
    rows = keyed.group_by("PATIENT_KEY").agg(_patient_rows=pl.col(ROW))
    one = keyed.unique(subset="PATIENT_KEY", keep="first", maintain_order=True).join(
        rows, on="PATIENT_KEY"
    )
    ok = pl.col("_patient_rows").list.len() == 1

    def value(expr: pl.Expr) -> pl.Expr:
        return pl.when(ok).then(expr)

    return one.select(
        "PATIENT_KEY",
        _patient_found=pl.lit(True),
        _patient_error=pl.when(~ok).then(
            _reason("APEX_CONFLICTING_ROWS", "Patient", _where("Patient", pl.col("_patient_rows")),
                    what="rows for one PATIENT_KEY")
        ),
        patient_id=value(pl.col("IDENTIFIER1")),
        _birth=value(vendor_date(pl.col("BIRTHDATE"), options.date_format)),
        _birth_text=value(pl.col("BIRTHDATE")),
        sex=value(
            pl.col("SEX").str.to_uppercase().replace({"FEMALE": "F", "MALE": "M", "W": "F"})
        ),
        height_cm=value(pl.col("HEIGHT")),
        weight_kg=value(pl.col("WEIGHT")),
        bmi=value(pl.col("BMI")),
        _menopause_year=value(number(pl.col("MENOPAUSE_YEAR"))),
    )


# --- measurements and references per scan -----------------------------------------------

#: measurement table -> its values per scan
_VALUES: dict[str, dict[str, pl.Expr]] = {
    "Spine": {
        "_spine_bmd": pl.col("TOT_BMD"),
        "_flags": pl.sum_horizontal(
            flag(pl.col(f"L{i}_INCLUDED")).cast(pl.Int64) for i in range(1, 5)
        ),
        "_flags_known": pl.any_horizontal(
            flag(pl.col(f"L{i}_INCLUDED")).is_not_null() for i in range(1, 5)
        ),
    },
    "Hip": {"_neck_bmd": pl.col("NECK_BMD"), "_total_bmd": pl.col("HTOT_BMD")},
    "Forearm": {"_radius_bmd": pl.col("R_13_BMD")},
}


def _attach_measurements(scans: pl.DataFrame, name: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Join one measurement table's values to the scans, with its errors per scan.

    Errors: no row for a scan of this table's kind, several differing rows for one scan,
    a row linked to a scan of another kind, a SCANID-only link that is ambiguous.
    """
    keys = _link_keys(rows)
    found = f"_rows_{name}"
    per_scan = rows.sort(ROW).group_by(keys, maintain_order=True).agg(
        *[expr.first().alias(col) for col, expr in _VALUES[name].items()],
        pl.col(ROW).alias(found),
    )
    scans = scans.join(per_scan, on=keys, how="left")
    here = pl.col(found).is_not_null()
    where = _where(name, pl.col(found))
    problems = [
        pl.when((pl.col("_table") == name) & ~here).then(
            _reason("APEX_NO_MEASUREMENT", "ScanAnalysis", _at("ScanAnalysis"), other=name)
        ),
        pl.when(here & (pl.col(found).list.len() > 1)).then(
            _reason("APEX_CONFLICTING_ROWS", name, where, what="rows for one scan")
        ),
        pl.when(here & (pl.col("_table") != name)).then(
            _reason("APEX_WRONG_SCAN_KIND", name, where, kind=pl.col("_kind"))
        ),
    ]
    if keys == ["SCANID"]:
        problems.append(
            pl.when(here & pl.col("_scanid_shared")).then(
                _reason("APEX_AMBIGUOUS_SCANID", name, where, other=name)
            )
        )
    return scans.with_columns(
        pl.concat_list(problems).list.drop_nulls().alias(f"_errors_{name}")
    )


def _reference_site(bonerange: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The canonical site a BONERANGE gives for a scan kind; "unused" for regions the
    registry does not carry (hip `.2..` trochanter, `..3.` intertrochanter, `...4`
    Ward's; other forearm regions); null when the BONERANGE is unknown."""
    return (
        pl.when((kind == "spine") & bonerange.str.contains(_SPINE_RANGE) & (bonerange != "...."))
        .then(pl.lit("spine"))
        .when((kind == "hip") & (bonerange == "1..."))
        .then(pl.lit("femoral_neck"))
        .when((kind == "hip") & (bonerange == "123."))
        .then(pl.lit("total_hip"))
        .when((kind == "hip") & bonerange.str.contains(_SPINE_RANGE))
        .then(pl.lit("unused"))
        .when((kind == "forearm") & (bonerange == "R.."))
        .then(pl.lit("radius_33"))
        .when((kind == "forearm") & bonerange.str.contains(_FOREARM_RANGE))
        .then(pl.lit("unused"))
    )


def _references(refs: pl.DataFrame, scans: pl.DataFrame) -> pl.DataFrame:
    """T and Z per site for each scan (keyed by the scan's PATIENT_KEY, SCANID), with
    `_errors_refs`: unknown or blank BONERANGE, differing rows for one BONERANGE, two
    spine ranges of the same (widest) width."""
    keys = _link_keys(refs)
    per_range = (
        refs.sort(ROW)
        .group_by([*keys, "BONERANGE"], maintain_order=True)
        .agg(pl.col("T_SCORE", "Z_SCORE").first(), _rows=pl.col(ROW))
        .join(scans.select(*SCAN_KEY, "_kind"), on=keys, how="inner")
    )
    br = pl.col("BONERANGE")
    site = pl.col("_site")
    per_range = per_range.with_columns(
        _site=_reference_site(br, pl.col("_kind")), _digits=br.str.count_matches(r"\d")
    ).with_columns(
        _widest=pl.col("_digits") == pl.col("_digits").max().over([*SCAN_KEY, "_site"]),
    )
    ties = per_range.filter((site == "spine") & pl.col("_widest")).group_by(SCAN_KEY).agg(
        _tied=pl.col("_rows").list.explode(keep_nulls=False, empty_as_null=False), _n=pl.len()
    ).filter(pl.col("_n") > 1)
    where = _where("ReferenceResults", pl.col("_rows"))
    errors = per_range.with_columns(
        _error=pl.when(br.is_null())
        .then(_reason("APEX_MISSING_VALUE", "ReferenceResults", where, field="BONERANGE"))
        .when(site.is_null())
        .then(_reason("APEX_UNKNOWN_BONERANGE", "ReferenceResults", where, bonerange=br))
        .when(pl.col("_rows").list.len() > 1)
        .then(_reason("APEX_CONFLICTING_ROWS", "ReferenceResults", where,
                      what="rows for one scan and BONERANGE"))
    ).group_by(SCAN_KEY).agg(_errors_refs=pl.col("_error").drop_nulls())
    tie_errors = ties.select(
        *SCAN_KEY,
        _tie=_reason("APEX_SPINE_RANGE_TIE", "ReferenceResults",
                     _where("ReferenceResults", pl.col("_tied"))),
    )
    picked = per_range.filter(site.is_in(SITES) & pl.col("_widest"))
    values = picked.group_by(SCAN_KEY).agg(
        *[
            pl.col(column).filter(site == s).first().alias(f"{column}_{s}")
            for s in SITES
            for column in ("T_SCORE", "Z_SCORE", "_digits")
        ]
    )
    out = errors.join(tie_errors, on=SCAN_KEY, how="left", nulls_equal=True).with_columns(
        _errors_refs=pl.concat_list("_errors_refs", "_tie").list.drop_nulls()
    ).drop("_tie")
    return out.join(values, on=SCAN_KEY, how="full", coalesce=True, nulls_equal=True)


def _missing(where: pl.Expr, field: str) -> pl.Expr:
    return _reason("APEX_MISSING_VALUE", "ScanAnalysis", where, field=field)


def _scan_errors(scans: pl.DataFrame) -> pl.DataFrame:
    """Every problem of a scan, as a list of messages naming table and row."""
    here = _at("ScanAnalysis")
    problems = [
        pl.when(pl.col("PATIENT_KEY").is_null()).then(_missing(here, "PATIENT_KEY")),
        pl.when(pl.col("PATIENT_KEY").is_not_null() & pl.col("_patient_found").is_null()).then(
            _reason("APEX_NO_PATIENT", "ScanAnalysis", here)
        ),
        pl.col("_patient_error"),
        pl.when(pl.col("SERIAL_NUMBER").is_null()).then(_missing(here, "SERIAL_NUMBER")),
        pl.when(pl.col("_type").is_null()).then(_missing(here, "SCAN_TYPE")),
        pl.when(pl.col("_date").is_null()).then(
            _reason("APEX_UNREADABLE_DATE", "ScanAnalysis", here, field="SCAN_DATE")
        ),
        pl.col("_sa_error"),
    ]
    lists = [
        pl.concat_list(problems).list.drop_nulls(),
        *[pl.col(f"_errors_{name}") for name in MEASUREMENT_TABLES],
        pl.col("_errors_refs").fill_null(_NO_ERRORS),
    ]
    return scans.with_columns(_errors=pl.concat_list(lists))


# --- exams ------------------------------------------------------------------------------------


def _exam_groups(scans: pl.DataFrame) -> pl.DataFrame:
    """exam_id for scans with a full key; a scan without one is its own (rejected) group."""
    complete = (
        pl.col("PATIENT_KEY").is_not_null()
        & pl.col("SERIAL_NUMBER").is_not_null()
        & pl.col("_date").is_not_null()
    )
    return scans.with_columns(
        exam_id=pl.when(complete).then(
            pl.format("APEX-{}-{}-{}", pl.col("SERIAL_NUMBER"), pl.col("PATIENT_KEY"),
                      pl.col("_date").dt.to_string("%Y%m%d"))
        ),
    ).with_columns(
        _group=pl.coalesce(pl.col("exam_id"), pl.format("~{}", pl.col(ROW))),
        _slot=pl.coalesce(pl.col("_side"), pl.col("_kind")),
    )


def _latest_per_slot(
    scans: pl.DataFrame, excluded: dict[str, int]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The later scan of each kind (and side) per exam, and per exam the error for two
    scans of one slot that cannot be ordered (same SCAN_DATE and ANALYSIS_DATE)."""
    slot = ["_group", "_slot"]
    ordered = scans.sort([*slot, "_scan_time", "_analysed", ROW], nulls_last=False)
    ordered = ordered.with_columns(
        _last=pl.int_range(pl.len()).over(slot) == pl.len().over(slot) - 1,
        _at_top=pl.col("_scan_time").eq_missing(pl.col("_scan_time").last().over(slot))
        & pl.col("_analysed").eq_missing(pl.col("_analysed").last().over(slot)),
    )
    kept = ordered.filter("_last")
    if ordered.height - kept.height:
        excluded["repeated_scans"] = ordered.height - kept.height
    ties = (
        ordered.filter("_at_top")
        .group_by(slot)
        .agg(_tied=pl.col(ROW), _n=pl.len())
        .filter(pl.col("_n") > 1)
        .group_by("_group")
        .agg(
            _slot_errors=_reason("APEX_UNORDERED_REPEATS", "ScanAnalysis",
                                 _where("ScanAnalysis", pl.col("_tied")), kind=pl.col("_slot"))
        )
    )
    return kept, ties


def _lower_hip(
    kept: pl.DataFrame, excluded: dict[str, int], notes: list[str]
) -> pl.DataFrame:
    """With both hips scanned keep the one whose lower T (neck, total hip) is lower;
    ties and missing T: left. The other hip is counted, never silently dropped."""
    hips = kept.filter(pl.col("_kind") == "hip").with_columns(
        _hip_t=pl.min_horizontal(
            number(pl.col("T_SCORE_femoral_neck")), number(pl.col("T_SCORE_total_hip"))
        )
    )
    chosen = hips.sort(["_group", "_hip_t", "_side"], nulls_last=True).unique(
        subset="_group", keep="first", maintain_order=True
    )
    dropped = hips.height - chosen.height
    if dropped:
        excluded["contralateral_hips"] = dropped
        notes.append(
            f"{dropped} exam(s) with both hips scanned: kept the hip with the lower T-score"
        )
    return pl.concat(
        [kept.filter(pl.col("_kind") != "hip"), chosen.drop("_hip_t")], how="vertical_relaxed"
    )


def _site(kind: str, column: str) -> pl.Expr:
    return pl.col(column).filter(pl.col("_kind") == kind).first()


def _exams(scans: pl.DataFrame, chosen: pl.DataFrame, ties: pl.DataFrame) -> pl.DataFrame:
    """One row per exam: patient values from any scan, site values from the chosen
    scans, errors from every scan of the exam (kept, repeated or contralateral)."""
    patient = ("exam_id", "PATIENT_KEY", "SERIAL_NUMBER", "_date", "patient_id", "_birth",
               "_birth_text", "sex", "height_cm", "weight_kg", "bmi", "_menopause_year")
    every = scans.group_by("_group").agg(
        *[pl.col(c).first() for c in patient],
        _scan_ids=pl.col("SCANID").sort(),
        _errors=pl.col("_errors").list.explode(keep_nulls=False, empty_as_null=False),
    )
    vertebrae = pl.when(pl.col("_flags_known")).then(pl.col("_flags")).otherwise(
        pl.col("_digits_spine").cast(pl.Int64, strict=False)
    )
    sites = chosen.with_columns(_vertebrae=vertebrae).group_by("_group").agg(
        spine_bmd=_site("spine", "_spine_bmd"),
        spine_t=_site("spine", "T_SCORE_spine"),
        spine_z=_site("spine", "Z_SCORE_spine"),
        spine_vertebrae=_site("spine", "_vertebrae"),
        femoral_neck_bmd=_site("hip", "_neck_bmd"),
        femoral_neck_t=_site("hip", "T_SCORE_femoral_neck"),
        femoral_neck_z=_site("hip", "Z_SCORE_femoral_neck"),
        total_hip_bmd=_site("hip", "_total_bmd"),
        total_hip_t=_site("hip", "T_SCORE_total_hip"),
        total_hip_z=_site("hip", "Z_SCORE_total_hip"),
        hip_side=_site("hip", "_side"),
        radius_33_bmd=_site("forearm", "_radius_bmd"),
        radius_33_t=_site("forearm", "T_SCORE_radius_33"),
        radius_33_z=_site("forearm", "Z_SCORE_radius_33"),
    )
    return (
        every.join(sites, on="_group", how="left")
        .join(ties, on="_group", how="left")
        .with_columns(
            _errors=pl.concat_list(
                "_errors", pl.col("_slot_errors").fill_null(_NO_ERRORS)
            ).list.unique(maintain_order=True)
        )
        .sort(["_date", "PATIENT_KEY", "SERIAL_NUMBER", "_group"], nulls_last=True)
        .with_row_index(ROW_NUMBER, offset=1)
    )


def _cells(exams: pl.DataFrame) -> pl.DataFrame:
    """Canonical text cells (plus `_errors`, `_scan_ids` and the raw JSON) per exam."""
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
    return cells.with_columns(pl.struct(unit).struct.json_encode().alias(RAW))


# --- the adapter ---------------------------------------------------------------------------


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read an APEX export folder into one row of canonical text cells per exam."""
    options = options or ReadOptions()
    if not path.is_dir():
        raise FileProblem("an APEX export must be a folder of table CSVs")
    excluded: dict[str, int] = {}
    notes: list[str] = []
    tables = {
        name: _drop_exact_duplicates(name, frame, excluded)
        for name, frame in _read_tables(path).items()
    }

    # --- scans and patients ---------------------------------------------------------------
    all_sa = tables["ScanAnalysis"]
    no_scanid = all_sa.filter(pl.col("SCANID").is_null())
    scan_rows = all_sa.filter(pl.col("SCANID").is_not_null())
    scans = _current_analyses(scan_rows, options, excluded)
    patients = _patients(tables["Patient"], scan_rows, options, excluded)

    # --- measurement and reference rows, linked by key ----------------------------------
    rejected_rows = [
        _rejected_rows(no_scanid, _missing(_at("ScanAnalysis"), "SCANID"), 0)
    ]
    linked: dict[str, pl.DataFrame] = {}
    for order, name in enumerate((*MEASUREMENT_TABLES, "ReferenceResults"), start=1):
        linked[name], lost = _link(name, tables[name], scan_rows, order)
        rejected_rows.append(lost)
    for name in MEASUREMENT_TABLES:
        scans = _attach_measurements(scans, name, linked[name])
    scans = scans.join(
        _references(linked["ReferenceResults"], scans), on=SCAN_KEY, how="left",
        nulls_equal=True,
    )
    scans = _scan_errors(scans.join(patients, on="PATIENT_KEY", how="left"))

    # --- exams -------------------------------------------------------------------------------
    scans = _exam_groups(scans)
    kept, ties = _latest_per_slot(scans, excluded)
    chosen = _lower_hip(kept, excluded, notes)
    cells = _cells(_exams(scans, chosen, ties))
    bad = pl.col("_errors").list.len() > 0
    rejected_exams = cells.filter(bad).select(
        row_number=pl.col(ROW_NUMBER).cast(pl.Int64),
        exam_id=pl.col("exam_id"),
        reasons=pl.col("_errors"),
        raw=pl.col(RAW),
    )
    loose = (
        pl.concat(rejected_rows)
        .sort(["_table_order", "_source_row"])
        .with_row_index("_n", offset=cells.height + 1)
        .select(row_number=pl.col("_n").cast(pl.Int64), exam_id="exam_id",
                reasons=pl.concat_list("reason"), raw="raw")
    )
    units = pl.concat([rejected_exams, loose])
    # a unit's problems in the order they were found (scan, tables, references)
    rejected = quarantine_rows(explode_reasons(units, "reasons"), units, order="given")
    return SourceFile(
        path=path,
        sha256=fingerprint(path),
        source_format=HOLOGIC_APEX,
        vendor=VENDOR,
        cells=cells.filter(~bad).drop("_errors", "_scan_ids"),
        rejected=rejected,
        excluded=excluded,
        notes=notes,
    )
