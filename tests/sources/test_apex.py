"""Hologic APEX table exports: round trip against the canonical CSV, quirks, broken input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from registry_twin import assert_region_recorded, assert_same_registry, load_registry

from pipelines.ingest.prepare import PreparedInput, prepare_input
from samplegen.apex import apex_tables, write_apex_export
from samplegen.canonical import generate_exams
from samplegen.messy import write_plain_csv
from schemas.errors import FileProblem
from sources import apex
from sources.base import ReadOptions
from sources.detect import Input, discover
from transforms.columns import ROW_NUMBER

SEED = 11


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Path]:
    """An APEX export of 160 canonical exams and its canonical twin."""
    root = tmp_path_factory.mktemp("apex")
    exams = generate_exams(160, seed=SEED)
    twin = write_apex_export(exams, root / "export", seed=SEED)
    return twin, root / "export"


def prepare(folder: Path) -> PreparedInput:
    return prepare_input(Input(folder, "hologic_apex"), ReadOptions())


def test_export_and_canonical_twin_give_the_same_registry(
    exported: tuple[pl.DataFrame, Path], tmp_path: Path
) -> None:
    twin, folder = exported
    csv = write_plain_csv(twin, tmp_path / "twin.csv", SEED)
    vendor = load_registry(tmp_path / "apex.duckdb", [Input(folder, "hologic_apex")])
    canonical = load_registry(tmp_path / "twin.duckdb", [Input(csv, "canonical_csv")])
    assert vendor["exams"].height == twin.height > 30
    assert vendor["quarantine"].height == canonical["quarantine"].height == 0
    assert_same_registry(vendor, canonical)
    exams = vendor["exams"]
    assert exams["exam_id"].str.starts_with("APEX-").all()
    assert set(exams["scanner_manufacturer"]) == {"Hologic"}
    assert exams["prior_fragility_fracture"].null_count() == exams.height  # not recorded
    assert_region_recorded(exams)


def test_twin_holds_only_what_apex_carries(exported: tuple[pl.DataFrame, Path]) -> None:
    twin, _ = exported
    for column in ("age_years", "scanner_model", "prior_fragility_fracture",
                   "glucocorticoid_mg_day", "current_smoker", "on_treatment", "frax_major_pct"):
        assert twin[column].null_count() == twin.height, column
    assert twin["birth_date"].null_count() == 0


def test_qc_scans_and_superseded_analyses_are_counted(
    exported: tuple[pl.DataFrame, Path],
) -> None:
    _, folder = exported
    prepared = prepare(folder)
    assert prepared.excluded["qc_scans"] == 1
    assert prepared.excluded["superseded_analyses"] == 1
    assert prepared.excluded["contralateral_hips"] > 0
    assert any("both hips" in note for note in prepared.notes)


def test_rows_read_is_one_per_exam(exported: tuple[pl.DataFrame, Path]) -> None:
    twin, folder = exported
    assert prepare(folder).rows_read == twin.height


def test_file_order_does_not_matter(exported: tuple[pl.DataFrame, Path], tmp_path: Path) -> None:
    _, folder = exported
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for path in folder.iterdir():
        table = pl.read_csv(path, infer_schema=False)
        table.reverse().write_csv(shuffled / path.name)
    key = ["exam_id"]
    a, b = prepare(folder), prepare(shuffled)
    assert a.valid is not None and b.valid is not None
    assert_frame_equal(
        a.valid.drop(ROW_NUMBER).sort(key), b.valid.drop(ROW_NUMBER).sort(key)
    )
    assert a.excluded == b.excluded


def _exam(**overrides: object) -> pl.DataFrame:
    base = generate_exams(1, seed=5).with_columns(
        scanner_manufacturer=pl.lit("Hologic"), scanner_serial=pl.lit("S1"),
    )
    return base.with_columns(**{k: pl.lit(v) for k, v in overrides.items()})


def _write(
    tables: dict[str, pl.DataFrame], folder: Path, spelled: Callable[[str], str] = str
) -> Path:
    """Each table as `<name>.csv` in `folder`; `spelled` changes the case of the names."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.write_csv(folder / f"{spelled(name)}.csv")
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


def _scan_id(tables: dict[str, pl.DataFrame], scan_type: str) -> str:
    return tables["ScanAnalysis"].filter(pl.col("SCAN_TYPE") == scan_type)["SCANID"][0]


def _no_key_values(errors: list[str], tables: dict[str, pl.DataFrame]) -> None:
    """Error messages name tables and row numbers, never key or identifier values."""
    values = {
        *tables["ScanAnalysis"]["SCANID"].to_list(),
        *tables["Patient"]["PATIENT_KEY"].to_list(),
        *tables["Patient"]["IDENTIFIER1"].to_list(),
    }
    for error in errors:
        for value in values:
            assert f" {value}:" not in error and f" {value} " not in error, (value, error)


def test_unknown_bonerange_rejects_the_exam_naming_table_and_row(tmp_path: Path) -> None:
    exam = _exam(spine_t=-1.0, spine_bmd=0.9, spine_vertebrae=4)
    tables = apex_tables(exam, 5, qc_scan=False, reanalysis=False)
    spine_id = tables["Spine"]["SCANID"][0]
    refs = tables["ReferenceResults"]
    row = refs.with_row_index("n", offset=1).filter(pl.col("SCANID") == spine_id)["n"][0]
    tables["ReferenceResults"] = refs.with_columns(
        BONERANGE=pl.when(pl.col("SCANID") == spine_id).then(pl.lit("X1"))
        .otherwise(pl.col("BONERANGE"))
    )
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.error is None
    assert prepared.valid is not None and prepared.valid.height == 0
    assert prepared.quarantine is not None and prepared.quarantine.height == 1
    errors = prepared.quarantine["errors"][0]
    assert f"ReferenceResults row {row}: unknown BONERANGE 'X1'" in errors
    _no_key_values([errors], tables)
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
    assert any("ScanAnalysis row 1: no Patient row for its PATIENT_KEY" in e for e in errors)
    lost = tables["Hip"].height
    assert f"Hip row {lost}: no ScanAnalysis row for its PATIENT_KEY and SCANID" in errors
    _no_key_values(errors, tables)
    assert "999" not in " ".join(errors)
    assert prepared.rows_read == 2
    assert prepared.excluded["patients_without_scans"] == 1


def _two_site_exam() -> pl.DataFrame:
    return _exam(spine_t=-1.0, spine_bmd=0.9, spine_vertebrae=4, femoral_neck_t=-1.5,
                 femoral_neck_bmd=0.7, total_hip_t=-1.2, total_hip_bmd=0.8, hip_side="left")


@pytest.mark.parametrize("column", ["SERIAL_NUMBER", "PATIENT_KEY"])
def test_scan_with_blank_key_is_quarantined_not_lost(tmp_path: Path, column: str) -> None:
    tables = apex_tables(_two_site_exam(), 5, both_hips_share=0.0, qc_scan=False,
                         reanalysis=False)
    hip = _scan_id(tables, "2")
    sa = tables["ScanAnalysis"]
    row = sa.with_row_index("n", offset=1).filter(pl.col("SCANID") == hip)["n"][0]
    tables["ScanAnalysis"] = sa.with_columns(
        pl.when(pl.col("SCANID") == hip).then(pl.lit(None)).otherwise(pl.col(column)).alias(column)
    )
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.valid is not None and prepared.quarantine is not None
    assert prepared.valid.height == 1  # the spine scan is an exam of its own
    assert prepared.valid["femoral_neck_t"].null_count() == 1
    errors = prepared.quarantine["errors"].to_list()
    assert any(f"ScanAnalysis row {row}: no {column}" in e for e in errors), errors
    assert prepared.quarantine["exam_id"].null_count() == prepared.quarantine.height
    assert prepared.rows_read == prepared.valid.height + prepared.quarantine.height


def test_scan_without_scanid_is_quarantined(tmp_path: Path) -> None:
    tables = apex_tables(_two_site_exam(), 5, qc_scan=False, reanalysis=False)
    extra = tables["ScanAnalysis"].head(1).with_columns(SCANID=pl.lit(None, dtype=pl.String))
    tables["ScanAnalysis"] = pl.concat([tables["ScanAnalysis"], extra])
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.quarantine is not None and prepared.valid is not None
    row = tables["ScanAnalysis"].height
    assert f"ScanAnalysis row {row}: no SCANID" in prepared.quarantine["errors"].to_list()
    assert prepared.valid.height == 1


def test_error_on_the_dropped_hip_rejects_the_exam(tmp_path: Path) -> None:
    tables = apex_tables(_two_site_exam(), 5, both_hips_share=1.0, qc_scan=False,
                         reanalysis=False)
    right = _scan_id(tables, "3")  # the contralateral hip: higher T, would be dropped
    tables["ReferenceResults"] = tables["ReferenceResults"].with_columns(
        BONERANGE=pl.when((pl.col("SCANID") == right) & (pl.col("BONERANGE") == "123."))
        .then(pl.lit("9x9")).otherwise(pl.col("BONERANGE"))
    )
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.valid is not None and prepared.valid.height == 0
    assert prepared.quarantine is not None
    assert "unknown BONERANGE '9x9'" in prepared.quarantine["errors"][0]
    assert prepared.excluded["contralateral_hips"] == 1


def test_error_on_a_repeated_scan_rejects_the_exam(tmp_path: Path) -> None:
    tables = apex_tables(_two_site_exam(), 5, both_hips_share=0.0, qc_scan=False,
                         reanalysis=False)
    first = tables["ScanAnalysis"].filter(pl.col("SCAN_TYPE") == "1")
    earlier = first.with_columns(  # an earlier spine scan the same morning, no Spine row
        SCANID=pl.lit("999"),
        SCAN_DATE=pl.col("SCAN_DATE").str.replace(r"09:", "08:"),
        ANALYSIS_DATE=pl.col("ANALYSIS_DATE").str.replace(r"09:", "08:"),
    )
    tables["ScanAnalysis"] = pl.concat([tables["ScanAnalysis"], earlier])
    folder = _write(tables, tmp_path / "x")
    prepared = prepare(folder)
    assert prepared.valid is not None and prepared.valid.height == 0
    assert prepared.quarantine is not None
    row = tables["ScanAnalysis"].height
    assert f"ScanAnalysis row {row}: no Spine row for this scan" in prepared.quarantine["errors"][0]
    assert prepared.excluded["repeated_scans"] == 1
    # with its own Spine row the later scan is kept and the earlier one counted
    extra = tables["Spine"].head(1).with_columns(SCANID=pl.lit("999"), TOT_BMD=pl.lit("0.5"))
    tables["Spine"] = pl.concat([tables["Spine"], extra])
    extra_ref = tables["ReferenceResults"].filter(pl.col("SCANID") == first["SCANID"][0])
    tables["ReferenceResults"] = pl.concat(
        [tables["ReferenceResults"], extra_ref.with_columns(SCANID=pl.lit("999"))]
    )
    prepared = prepare(_write(tables, tmp_path / "y"))
    assert prepared.valid is not None and prepared.valid["spine_bmd"].to_list() == [0.9]
    assert prepared.excluded["repeated_scans"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("blank_bonerange", "ReferenceResults row {ref}: no BONERANGE"),
        ("two_spine_ranges", "several spine BONERANGEs of the same width"),
        ("hip_row_on_spine_scan", "Hip row {hip}: linked to a spine scan"),
    ],
)
def test_reference_and_measurement_rows_that_do_not_fit_reject_the_exam(
    tmp_path: Path, change: str, message: str
) -> None:
    tables = apex_tables(_two_site_exam(), 5, both_hips_share=0.0, qc_scan=False,
                         reanalysis=False)
    spine = _scan_id(tables, "1")
    refs = tables["ReferenceResults"]
    is_spine_ref = (pl.col("SCANID") == spine) & (pl.col("BONERANGE") == "1234")
    if change == "blank_bonerange":
        tables["ReferenceResults"] = refs.with_columns(
            BONERANGE=pl.when(is_spine_ref).then(None).otherwise(pl.col("BONERANGE"))
        )
    elif change == "two_spine_ranges":
        tables["ReferenceResults"] = pl.concat([
            refs.with_columns(
                BONERANGE=pl.when(is_spine_ref).then(pl.lit("123.")).otherwise("BONERANGE")
            ),
            refs.filter(is_spine_ref).with_columns(BONERANGE=pl.lit(".234")),
        ])
    else:
        extra = tables["Hip"].head(1).with_columns(SCANID=pl.lit(spine))
        tables["Hip"] = pl.concat([tables["Hip"], extra])
    ref = refs.with_row_index("n", offset=1).filter(is_spine_ref)["n"][0]
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.valid is not None and prepared.valid.height == 0
    assert prepared.quarantine is not None
    expected = message.format(ref=ref, hip=tables["Hip"].height)
    assert expected in prepared.quarantine["errors"][0]


def test_exact_duplicate_rows_are_counted(tmp_path: Path) -> None:
    tables = apex_tables(_two_site_exam(), 5, qc_scan=False, reanalysis=False)
    clean = prepare(_write(tables, tmp_path / "clean"))
    for name in ("Patient", "ScanAnalysis", "Spine", "Hip", "ReferenceResults"):
        tables[name] = pl.concat([tables[name], tables[name].head(1)])
    doubled = prepare(_write(tables, tmp_path / "doubled"))
    assert doubled.valid is not None and clean.valid is not None
    assert_frame_equal(doubled.valid, clean.valid)
    for name in ("Patient", "ScanAnalysis", "Spine", "Hip", "ReferenceResults"):
        assert doubled.excluded[f"duplicate_{name}_rows"] == 1


@pytest.mark.parametrize(
    ("table", "column", "message"),
    [
        ("Spine", "TOT_BMD", "Spine rows 1, {n}: conflicting rows for one scan"),
        ("Hip", "NECK_BMD", "Hip rows 1, {n}: conflicting rows for one scan"),
        ("ReferenceResults", "T_SCORE",
         "ReferenceResults rows 1, {n}: conflicting rows for one scan and BONERANGE"),
        ("Patient", "BIRTHDATE", "Patient rows 1, {n}: conflicting rows for one PATIENT_KEY"),
    ],
)
def test_conflicting_duplicate_rows_reject_the_exam(
    tmp_path: Path, table: str, column: str, message: str
) -> None:
    exams = pl.concat([_two_site_exam(), _exam(patient_id="OTHER", spine_t=-2.0)],
                      how="vertical_relaxed")
    tables = apex_tables(exams, 5, both_hips_share=0.0, qc_scan=False, reanalysis=False)
    copy = tables[table].head(1).with_columns(pl.lit("1.5").alias(column))
    if column == "BIRTHDATE":
        copy = copy.with_columns(BIRTHDATE=pl.lit("1950-01-01 00:00:00"))
    tables[table] = pl.concat([tables[table], copy])
    prepared = prepare(_write(tables, tmp_path / "x"))
    assert prepared.valid is not None and prepared.quarantine is not None
    assert prepared.valid.height == 1  # the other patient's exam
    assert prepared.valid["patient_id"].to_list() == ["OTHER"]
    errors = prepared.quarantine["errors"].to_list()
    assert any(message.format(n=tables[table].height) in e for e in errors), errors
    assert prepared.rows_read == 2


def test_shared_scanid_is_told_apart_by_patient_key(tmp_path: Path) -> None:
    exams = pl.concat(
        [_two_site_exam(), _exam(patient_id="OTHER", spine_t=-2.0, spine_bmd=0.6)],
        how="vertical_relaxed",
    )
    tables = apex_tables(exams, 5, both_hips_share=0.0, qc_scan=False, reanalysis=False)
    # a merged export of two scanner databases: the second patient's scans reuse SCANIDs
    keys = tables["Patient"]["PATIENT_KEY"].to_list()
    renumber = pl.when(pl.col("PATIENT_KEY") == keys[1]).then(
        (pl.col("SCANID").cast(pl.Int64) - 3).cast(pl.String)
    ).otherwise(pl.col("SCANID"))
    for name in ("ScanAnalysis", "Spine", "Hip", "ReferenceResults"):
        tables[name] = tables[name].with_columns(SCANID=renumber)
    assert tables["ScanAnalysis"]["SCANID"].n_unique() < tables["ScanAnalysis"].height
    prepared = prepare(_write(tables, tmp_path / "keyed"))
    assert prepared.valid is not None and prepared.valid.height == 2
    bmd = dict(zip(prepared.valid["patient_id"], prepared.valid["spine_bmd"], strict=True))
    assert bmd["OTHER"] == 0.6 and bmd[exams["patient_id"][0]] == 0.9
    for name in ("Spine", "Hip", "ReferenceResults"):
        tables[name] = tables[name].drop("PATIENT_KEY")
    prepared = prepare(_write(tables, tmp_path / "scanid_only"))
    assert prepared.quarantine is not None
    assert any("SCANID shared by scans of several patients" in e
               for e in prepared.quarantine["errors"].to_list())


@pytest.mark.parametrize("missing", ["Patient", "ScanAnalysis"])
def test_export_missing_patient_or_scananalysis_fails_alone(tmp_path: Path, missing: str) -> None:
    tables = apex_tables(_exam(), 5)
    del tables[missing]
    folder = _write(tables, tmp_path / "data" / "export", str.lower)
    inputs, _ = discover([tmp_path / "data"])
    assert [(i.path, i.source_format) for i in inputs] == [(folder, "hologic_apex")]
    prepared = prepare_input(inputs[0], ReadOptions())
    assert prepared.error == f"APEX export lacks table(s): {missing}"


def test_folder_with_one_apex_name_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "patient.csv").write_text("a,b\n1,2\n")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert apex.sniff(tmp_path) is not None
    inputs, _ = discover([tmp_path])
    assert {i.source_format for i in inputs} == {"canonical_csv"}


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
    folder = _write(tables, tmp_path / "data" / "export", str.upper)
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
