"""Reading and linking the APEX tables: files, columns, duplicates, keys, patients.

Also the current analysis of each scan and the reason helpers the other modules use.
"""


from __future__ import annotations

from pathlib import Path

import polars as pl

from schemas.errors import FileProblem
from schemas.reasons import (
    REASON_STRUCT,
    reason_expr,
    table_row,
    table_rows,
)
from sources.base import ReadOptions
from sources.csv_text import decode_text, detect_delimiter
from sources.vendor_units import flag, number, vendor_date, vendor_datetime

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
