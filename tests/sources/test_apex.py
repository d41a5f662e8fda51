"""Hologic APEX table exports: round trip against the canonical CSV, quirks, broken input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.prepare import PreparedInput, prepare_input
from samplegen.apex import apex_tables, write_apex_export
from samplegen.canonical import generate_exams
from samplegen.messy import write_plain_csv
from sources import apex
from sources.base import ReadOptions
from sources.detect import Input, discover
from transforms.errors import FileProblem

SEED = 11

#: Canonical columns an APEX export carries exactly (exam_id is APEX's own; height,
#: weight and BMI live on the Patient row; menopause is a year; the scanner model and
#: the risk questionnaire are not in these tables).
CARRIED = [
    "patient_id", "exam_date", "sex", "scanner_serial",
    "spine_bmd", "spine_t", "spine_z", "spine_vertebrae",
    "femoral_neck_bmd", "femoral_neck_t", "femoral_neck_z",
    "total_hip_bmd", "total_hip_t", "total_hip_z", "hip_side",
    "radius_33_bmd", "radius_33_t", "radius_33_z",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Path]:
    root = tmp_path_factory.mktemp("apex")
    exams = generate_exams(160, seed=SEED)
    written = write_apex_export(exams, root / "export", seed=SEED)
    return written, root / "export"


def prepare(folder: Path) -> PreparedInput:
    return prepare_input(Input(folder, "hologic_apex"), ReadOptions())


def test_round_trip_matches_the_canonical_csv(
    exported: tuple[pl.DataFrame, Path], tmp_path: Path
) -> None:
    written, folder = exported
    canonical = prepare_input(
        Input(write_plain_csv(written, tmp_path / "c.csv", SEED), "canonical_csv")
    )
    vendor = prepare(folder)
    assert vendor.error is None, vendor.error
    assert canonical.valid is not None and vendor.valid is not None
    assert vendor.valid.height == canonical.valid.height == written.height > 30
    assert vendor.quarantine is not None and vendor.quarantine.height == 0
    key = ["patient_id", "exam_date"]
    a = canonical.valid.sort(key)
    b = vendor.valid.sort(key)
    assert_frame_equal(a.select(CARRIED), b.select(CARRIED))
    # APEX carries the birth date only (age is derived from it)
    has_birth = a["birth_date"].is_not_null()
    assert_frame_equal(
        a.filter(has_birth).select("birth_date"), b.filter(has_birth).select("birth_date")
    )
    single = a.group_by("patient_id").len().filter(pl.col("len") == 1)["patient_id"]
    body = ["height_cm", "weight_kg", "bmi"]
    assert_frame_equal(
        a.filter(pl.col("patient_id").is_in(single.implode())).select(body),
        b.filter(pl.col("patient_id").is_in(single.implode())).select(body),
    )
    assert set(b["scanner_manufacturer"]) == {"Hologic"}
    assert b["prior_fragility_fracture"].null_count() == b.height  # not recorded
    assert b["exam_id"].str.starts_with("APEX-").all()


def test_qc_scans_and_superseded_analyses_are_counted(
    exported: tuple[pl.DataFrame, Path],
) -> None:
    _, folder = exported
    prepared = prepare(folder)
    assert prepared.excluded["qc_scans"] == 1
    assert prepared.excluded["superseded_analyses"] == 1
    assert any("both hips" in note for note in prepared.notes)


def test_rows_read_is_one_per_exam(exported: tuple[pl.DataFrame, Path]) -> None:
    written, folder = exported
    assert prepare(folder).rows_read == written.height


def _exam(**overrides: object) -> pl.DataFrame:
    base = generate_exams(1, seed=5).with_columns(
        scanner_manufacturer=pl.lit("Hologic"), scanner_serial=pl.lit("S1"),
    )
    return base.with_columns(**{k: pl.lit(v) for k, v in overrides.items()})


def _write(tables: dict[str, pl.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.write_csv(folder / f"{name}.csv")
    return folder


def test_lower_hip_is_kept_and_side_recorded(tmp_path: Path) -> None:
    exam = _exam(femoral_neck_t=-1.0, total_hip_t=-0.5, hip_side="left", femoral_neck_bmd=0.7)
    tables = apex_tables(exam, 5, both_hips_share=1.0, qc_scan=False, reanalysis=False)
    # make the right hip (the contralateral one) the lower
    right = tables["ScanAnalysis"].filter(pl.col("SCAN_TYPE") == "3")["SCANID"][0]
    tables["ReferenceResults"] = tables["ReferenceResults"].with_columns(
        T_SCORE=pl.when((pl.col("SCANID") == right) & (pl.col("BONERANGE") == "1..."))
        .then(pl.lit("-2.8"))
        .otherwise(pl.col("T_SCORE"))
    )
    sf = apex.read(_write(tables, tmp_path / "x"), ReadOptions())
    row = sf.cells.row(0, named=True)
    assert row["hip_side"] == "right"
    assert row["femoral_neck_t"] == "-2.8"


def test_vertebra_count_from_flags_and_from_bonerange(tmp_path: Path) -> None:
    exam = _exam(spine_vertebrae=3, spine_t=-1.0, spine_bmd=0.9)
    tables = apex_tables(exam, 5, qc_scan=False, reanalysis=False)
    assert "12.4" in tables["ReferenceResults"]["BONERANGE"].to_list()
    sf = apex.read(_write(tables, tmp_path / "flags"), ReadOptions())
    assert sf.cells["spine_vertebrae"].to_list() == ["3"]
    tables["Spine"] = tables["Spine"].drop([f"L{i}_INCLUDED" for i in range(1, 5)])
    sf = apex.read(_write(tables, tmp_path / "range"), ReadOptions())
    assert sf.cells["spine_vertebrae"].to_list() == ["3"]


def test_unknown_bonerange_rejects_the_exam_naming_table_and_key(tmp_path: Path) -> None:
    exam = _exam(spine_t=-1.0, spine_bmd=0.9, spine_vertebrae=4)
    tables = apex_tables(exam, 5, qc_scan=False, reanalysis=False)
    spine_id = tables["Spine"]["SCANID"][0]
    tables["ReferenceResults"] = tables["ReferenceResults"].with_columns(
        BONERANGE=pl.when(pl.col("SCANID") == spine_id).then(pl.lit("X1"))
        .otherwise(pl.col("BONERANGE"))
    )
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.error is None
    assert prepared.valid is not None and prepared.valid.height == 0
    assert prepared.quarantine is not None and prepared.quarantine.height == 1
    errors = prepared.quarantine["errors"][0]
    assert f"Spine SCANID {spine_id}: unknown BONERANGE 'X1'" in errors
    assert prepared.quarantine["exam_id"][0].startswith("APEX-S1-")
    assert json.loads(prepared.quarantine["raw"][0])["patient_id"] == exam["patient_id"][0]


def test_scan_without_patient_and_orphan_rows_are_rejected(tmp_path: Path) -> None:
    exam = _exam(spine_t=-1.0, spine_bmd=0.9, spine_vertebrae=4)
    tables = apex_tables(exam, 5, qc_scan=False, reanalysis=False)
    tables["Patient"] = tables["Patient"].with_columns(PATIENT_KEY=pl.lit("999"))
    orphan = tables["Hip"].head(1).with_columns(SCANID=pl.lit("77"))
    tables["Hip"] = pl.concat([tables["Hip"], orphan])
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.quarantine is not None
    errors = prepared.quarantine["errors"].to_list()
    assert any("no Patient row with PATIENT_KEY" in e for e in errors)
    assert "Hip SCANID 77: no ScanAnalysis row" in errors
    assert prepared.rows_read == 2


def test_missing_table_is_a_file_problem(tmp_path: Path) -> None:
    tables = apex_tables(_exam(), 5)
    del tables["ReferenceResults"]
    folder = _write(tables, tmp_path / "x")
    with pytest.raises(FileProblem, match="lacks table\\(s\\): ReferenceResults"):
        apex.read(folder, ReadOptions())
    prepared = prepare(folder)
    assert prepared.error == "APEX export lacks table(s): ReferenceResults"


def test_missing_column_is_a_file_problem(tmp_path: Path) -> None:
    tables = apex_tables(_exam(), 5)
    tables["Spine"] = tables["Spine"].drop("TOT_BMD")
    with pytest.raises(FileProblem, match="APEX table Spine lacks column\\(s\\): TOT_BMD"):
        apex.read(_write(tables, tmp_path / "x"), ReadOptions())


def test_file_names_are_case_insensitive_and_folder_is_one_input(tmp_path: Path) -> None:
    tables = apex_tables(_exam(), 5)
    folder = tmp_path / "data" / "export"
    folder.mkdir(parents=True)
    for name, table in tables.items():
        table.write_csv(folder / f"{name.upper()}.csv")
    inputs, _ = discover([tmp_path / "data"])
    assert [(i.path, i.source_format) for i in inputs] == [(folder, "hologic_apex")]
    assert prepare(folder).valid is not None


def test_slash_scan_dates_need_the_operator_option(tmp_path: Path) -> None:
    exam = _exam(spine_t=-1.0, spine_bmd=0.9, spine_vertebrae=4)
    tables = apex_tables(exam, 5, qc_scan=False, reanalysis=False)
    tables["ScanAnalysis"] = tables["ScanAnalysis"].with_columns(
        SCAN_DATE=pl.lit("01/03/2024 09:00"), ANALYSIS_DATE=pl.lit("01/03/2024 09:00")
    )
    folder = _write(tables, tmp_path / "x")
    dmy = prepare_input(Input(folder, "hologic_apex"), ReadOptions(date_format="DMY"))
    assert dmy.valid is not None and dmy.valid["exam_date"].to_list()[0].isoformat() == (
        "2024-03-01"
    )
    iso_only = prepare(folder)
    assert iso_only.quarantine is not None
    assert "unreadable SCAN_DATE" in iso_only.quarantine["errors"][0]
