"""Assembling exams from scans (repeats, the lower hip, canonical cells) and the adapter `read`."""


from __future__ import annotations

from pathlib import Path

import polars as pl

from schemas.errors import FileProblem
from schemas.reasons import (
    explode_reasons,
    quarantine_rows,
)
from sources.apex.sites import (
    _attach_measurements,
    _missing,
    _references,
    _scan_errors,
)
from sources.apex.tables import (
    _NO_ERRORS,
    MEASUREMENT_TABLES,
    ROW,
    SCAN_KEY,
    VENDOR,
    _at,
    _current_analyses,
    _drop_exact_duplicates,
    _link,
    _patients,
    _read_tables,
    _reason,
    _rejected_rows,
    _where,
)
from sources.base import HOLOGIC_APEX, ReadOptions, SourceFile, fingerprint
from sources.vendor_units import iso_text, number
from transforms.columns import RAW, ROW_NUMBER

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


def _linked_scans(
    tables: dict[str, pl.DataFrame], options: ReadOptions, excluded: dict[str, int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """(the current scans with their measurements, references and patient; the rows of
    every table that link to no scan, as reason rows)."""
    all_sa = tables["ScanAnalysis"]
    no_scanid = all_sa.filter(pl.col("SCANID").is_null())
    scan_rows = all_sa.filter(pl.col("SCANID").is_not_null())
    scans = _current_analyses(scan_rows, options, excluded)
    patients = _patients(tables["Patient"], scan_rows, options, excluded)
    lost_rows = [
        _rejected_rows(no_scanid, _missing(_at("ScanAnalysis"), "SCANID"), 0)
    ]
    linked: dict[str, pl.DataFrame] = {}
    for order, name in enumerate((*MEASUREMENT_TABLES, "ReferenceResults"), start=1):
        linked[name], lost = _link(name, tables[name], scan_rows, order)
        lost_rows.append(lost)
    for name in MEASUREMENT_TABLES:
        scans = _attach_measurements(scans, name, linked[name])
    scans = scans.join(
        _references(linked["ReferenceResults"], scans), on=SCAN_KEY, how="left",
        nulls_equal=True,
    )
    return _scan_errors(scans.join(patients, on="PATIENT_KEY", how="left")), lost_rows


def _rejected(bad_exams: pl.DataFrame, lost_rows: list[pl.DataFrame], exams: int) -> pl.DataFrame:
    """Quarantine rows: the exams with errors (numbered as exams), then the table rows
    that link to no scan, numbered on from the last exam (`exams` of them)."""
    rejected_exams = bad_exams.select(
        row_number=pl.col(ROW_NUMBER).cast(pl.Int64),
        exam_id=pl.col("exam_id"),
        reasons=pl.col("_errors"),
        raw=pl.col(RAW),
    )
    loose = (
        pl.concat(lost_rows)
        .sort(["_table_order", "_source_row"])
        .with_row_index("_n", offset=exams + 1)
        .select(row_number=pl.col("_n").cast(pl.Int64), exam_id="exam_id",
                reasons=pl.concat_list("reason"), raw="raw")
    )
    units = pl.concat([rejected_exams, loose])
    # a unit's problems in the order they were found (scan, tables, references)
    return quarantine_rows(explode_reasons(units, "reasons"), units, order="given")


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
    scans, lost_rows = _linked_scans(tables, options, excluded)
    scans = _exam_groups(scans)
    kept, ties = _latest_per_slot(scans, excluded)
    chosen = _lower_hip(kept, excluded, notes)
    cells = _cells(_exams(scans, chosen, ties))
    bad = pl.col("_errors").list.len() > 0
    return SourceFile(
        path=path,
        sha256=fingerprint(path),
        source_format=HOLOGIC_APEX,
        vendor=VENDOR,
        cells=cells.filter(~bad).drop("_errors", "_scan_ids"),
        rejected=_rejected(cells.filter(bad), lost_rows, cells.height),
        excluded=excluded,
        notes=notes,
    )
