"""GE Lunar DICOM files: round trip per variant, quirks, broken files, detection."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pydicom.sequence import Sequence
from registry_twin import assert_region_recorded, assert_same_registry, load_registry

from pipelines.ingest.prepare import prepare_input
from samplegen.canonical import generate_exams
from samplegen.lunar import (
    _container,
    lunar_dataset,
    lunar_twin,
    old_xml,
    write_lunar_dicoms,
)
from samplegen.messy import write_plain_csv
from schemas.errors import FileProblem
from sources import lunar
from sources.base import ReadOptions
from sources.detect import Input, discover

SEED = 13

@pytest.fixture(scope="module")
def exams() -> pl.DataFrame:
    return generate_exams(90, seed=SEED)


@pytest.mark.parametrize("variant", ["xml_old", "xml_new", "sr"])
def test_files_and_canonical_twin_give_the_same_registry(
    exams: pl.DataFrame, tmp_path: Path, variant: str
) -> None:
    twin, paths = write_lunar_dicoms(exams, tmp_path / "dcm", variant=variant, seed=SEED)
    assert len(paths) == twin.height > 10
    csv = write_plain_csv(twin, tmp_path / "twin.csv", SEED)
    vendor = load_registry(tmp_path / "lunar.duckdb", [Input(p, "ge_lunar_dicom") for p in paths])
    canonical = load_registry(tmp_path / "twin.duckdb", [Input(csv, "canonical_csv")])
    assert vendor["exams"].height == twin.height
    assert vendor["quarantine"].height == canonical["quarantine"].height == 0
    assert_same_registry(vendor, canonical)
    assert vendor["exams"]["exam_id"].str.starts_with("LUNAR-").all()
    assert vendor["exams"]["frax_major_pct"].null_count() < twin.height  # FRAX carried
    assert_region_recorded(vendor["exams"])


def test_twin_holds_only_what_lunar_carries(exams: pl.DataFrame) -> None:
    twin = lunar_twin(exams)
    for column in ("bmi", "menopausal_status", "prior_fragility_fracture", "current_smoker",
                   "glucocorticoid_mg_day", "on_treatment"):
        assert twin[column].null_count() == twin.height, column


def _exam(**overrides: object) -> dict:
    row = generate_exams(1, seed=5).to_dicts()[0]
    row.update(
        scanner_manufacturer="GE Lunar", scanner_serial="200871", scanner_model="iDXA",
        spine_bmd=1.1, spine_t=-0.5, spine_z=0.1, spine_vertebrae=4,
        femoral_neck_bmd=0.8, femoral_neck_t=-1.5, femoral_neck_z=-0.5,
        total_hip_bmd=0.9, total_hip_t=-1.0, total_hip_z=-0.2, hip_side="left",
        frax_major_pct=12.5, frax_hip_pct=2.5,
    )
    row.update(overrides)
    return row


def _read(tmp_path: Path, exam: dict, variant: str, other_hip: bool = False, index: int = 0):
    path = tmp_path / f"{variant}.dcm"
    lunar_dataset(exam, variant, other_hip, index).save_as(path, enforce_file_format=True)
    return lunar.read(path, ReadOptions()).cells.row(0, named=True)


@pytest.mark.parametrize("variant", ["xml_old", "xml_new", "sr"])
def test_neck_is_not_upper_neck_or_neck_mean_and_l1_l4_wins(
    tmp_path: Path, variant: str
) -> None:
    row = _read(tmp_path, _exam(), variant, other_hip=True)
    assert row["femoral_neck_t"] == "-1.5"  # Upper Neck / Neck Mean decoys are -1.9
    assert row["spine_t"] == "-0.5"  # L2-L4 / L3-L4 decoys are -0.2
    assert row["spine_vertebrae"] == "4"
    assert row["hip_side"] == "left"  # the other femur is 0.4 higher
    assert row["frax_major_pct"] == "12.5"
    assert row["frax_hip_pct"] == "2.5"


def test_widest_lumbar_range_when_no_l1_l4(tmp_path: Path) -> None:
    row = _read(tmp_path, _exam(spine_vertebrae=3, spine_t=-1.1), "xml_new")
    assert row["spine_t"] == "-1.1"  # L1-L3 beats the narrower L2-L3 decoy
    assert row["spine_vertebrae"] == "3"


def test_decimal_commas_and_milligrams(tmp_path: Path) -> None:
    old = _read(tmp_path, _exam(spine_bmd=1.023), "xml_old")  # "1,023"
    assert old["spine_bmd"] == "1.023"
    new = _read(tmp_path, _exam(spine_bmd=1.023), "xml_new", index=1)  # "1023.0" mg/cm2
    assert float(new["spine_bmd"]) == pytest.approx(1.023)
    sr = _read(tmp_path, _exam(femoral_neck_t=-2.3), "sr", index=1)  # T as text "-2,3"
    assert sr["femoral_neck_t"] == "-2.3"


def test_old_xml_current_exam_is_the_last(tmp_path: Path) -> None:
    row = _read(tmp_path, _exam(total_hip_t=-1.0), "xml_old")
    assert row["total_hip_t"] == "-1.0"  # the earlier exam listed first has -0.9


#: The older enCORE XML as the public GE Lunar extractor documents it: the region is the
#: text of TREND_ROI, the EXAMs are its siblings inside TREND, the current exam is last.
PUBLIC_OLD_XML = """<DENSITOMETRY_RESULTS><CURRENT_EXAM>
<SCAN type="AP Spine"><TREND><TREND_ROI>L1-L4</TREND_ROI>
<BASELINE_EXAM_DATE>3/13/2023</BASELINE_EXAM_DATE>
<EXAM><EXAM_DATE>3/13/2023</EXAM_DATE><BMD>1,042</BMD><YAT>-1,2</YAT><AMZ>0,7</AMZ></EXAM>
<EXAM><EXAM_DATE>4/6/2026</EXAM_DATE><BMD>1,014</BMD><YAT>-1,5</YAT><AMZ>0,4</AMZ>
<BMD_CHANGE><TYPE>ROC_VS_PREVIOUS</TYPE><VALUE>-2,7</VALUE></BMD_CHANGE></EXAM>
</TREND></SCAN>
<SCAN type="Left Femur">
<TREND><TREND_ROI>Upper Neck</TREND_ROI>
<EXAM><EXAM_DATE>4/6/2026</EXAM_DATE><BMD>0,700</BMD><YAT>-2,9</YAT></EXAM></TREND>
<TREND><TREND_ROI>Neck</TREND_ROI>
<EXAM><EXAM_DATE>3/13/2023</EXAM_DATE><BMD>0,820</BMD><YAT>-1,6</YAT><AMZ>0,1</AMZ></EXAM>
<EXAM><EXAM_DATE>4/6/2026</EXAM_DATE><BMD>0,810</BMD><YAT>-1,7</YAT><AMZ>0,0</AMZ></EXAM>
</TREND>
<TREND><TREND_ROI>Total</TREND_ROI>
<EXAM><EXAM_DATE>4/6/2026</EXAM_DATE><BMD>0,905</BMD><YAT>-0,8</YAT></EXAM></TREND>
</SCAN>
</CURRENT_EXAM></DENSITOMETRY_RESULTS>"""


def test_old_xml_reads_the_public_structure(tmp_path: Path) -> None:
    ds = lunar_dataset(_exam(), "xml_old", False, 0)
    ds.ImageComments = PUBLIC_OLD_XML
    path = tmp_path / "public.dcm"
    ds.save_as(path, enforce_file_format=True)
    row = lunar.read(path, ReadOptions()).cells.row(0, named=True)
    assert (row["spine_bmd"], row["spine_t"], row["spine_z"]) == ("1.014", "-1.5", "0.4")
    assert row["spine_vertebrae"] == "4"
    # several TRENDs in one SCAN; Upper Neck is not Neck; the last EXAM is current
    assert (row["femoral_neck_bmd"], row["femoral_neck_t"]) == ("0.810", "-1.7")
    assert (row["total_hip_bmd"], row["total_hip_t"]) == ("0.905", "-0.8")
    assert row["hip_side"] == "left"


def test_generated_old_xml_has_the_public_structure() -> None:
    root = ET.fromstring(old_xml(_exam(), other_hip=True))
    trends = root.findall("CURRENT_EXAM/SCAN/TREND")
    assert trends
    for trend in trends:
        roi = trend.find("TREND_ROI")
        assert roi is not None and roi.text and not roi.attrib
        assert len(roi) == 0  # EXAMs are siblings of TREND_ROI, never its children
        exams = trend.findall("EXAM")
        assert len(exams) == 2
    regions = {t.findtext("TREND_ROI") for t in trends}
    assert {"L1-L4", "Neck", "Total", "Upper Neck"} <= regions


def test_frax_container_nested_in_the_report_is_found(tmp_path: Path) -> None:
    ds = lunar_dataset(_exam(), "sr", False, 0)
    frax = next(i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeMeaning == "FRAX")
    rest = [i for i in ds.ContentSequence if i is not frax]
    ds.ContentSequence = Sequence([*rest, _container("Risk Assessment", [frax])])
    path = tmp_path / "nested.dcm"
    ds.save_as(path, enforce_file_format=True)
    row = lunar.read(path, ReadOptions()).cells.row(0, named=True)
    assert (row["frax_major_pct"], row["frax_hip_pct"]) == ("12.5", "2.5")


def test_header_fields(tmp_path: Path) -> None:
    exam = _exam(birth_date=date(1950, 2, 3), exam_date=date(2024, 5, 6), sex="M",
                 height_cm=171.5)
    row = _read(tmp_path, exam, "sr")
    assert row["birth_date"] == "1950-02-03"
    assert row["exam_date"] == "2024-05-06"
    assert row["sex"] == "M"
    assert row["height_cm"] == "171.5"
    assert row["exam_id"] == f"LUNAR-200871-{exam['patient_id']}-20240506"


def test_truncated_dicom_is_a_file_problem(tmp_path: Path) -> None:
    good = tmp_path / "good.dcm"
    lunar_dataset(_exam(), "xml_new", False, 0).save_as(good, enforce_file_format=True)
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(good.read_bytes()[:400])
    prepared = prepare_input(Input(bad, "ge_lunar_dicom"))
    assert prepared.error is not None
    assert prepared.error.startswith("not a readable DICOM file")
    assert _exam()["patient_id"] not in prepared.error
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello")
    with pytest.raises(FileProblem, match="not a readable DICOM file"):
        lunar.read(junk, ReadOptions())


def test_dicom_without_results_is_a_file_problem(tmp_path: Path) -> None:
    ds = lunar_dataset(_exam(), "xml_new", False, 0)
    del ds.ImageComments
    path = tmp_path / "empty.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(FileProblem, match="holds no GE Lunar results"):
        lunar.read(path, ReadOptions())


def test_folder_of_dicoms_is_one_input_per_file_and_magic_is_sniffed(tmp_path: Path) -> None:
    folder = tmp_path / "lunar"
    folder.mkdir()
    for i, name in enumerate(["a.dcm", "b.dcm", "IM0001"]):
        lunar_dataset(_exam(), "sr", False, i).save_as(folder / name, enforce_file_format=True)
    inputs, _ = discover([tmp_path])
    assert [(i.path.name, i.source_format) for i in inputs] == [
        ("IM0001", "ge_lunar_dicom"), ("a.dcm", "ge_lunar_dicom"), ("b.dcm", "ge_lunar_dicom")
    ]


def test_unrecognised_input_lists_every_format_and_why(tmp_path: Path) -> None:
    path = tmp_path / "scan.xlsx"
    path.write_bytes(b"PK\x03\x04")
    inputs, _ = discover([path])
    problem = inputs[0].problem or ""
    assert "canonical_csv: file name does not end in .csv" in problem
    assert "hologic_apex: not an APEX export folder" in problem
    assert "ge_lunar_dicom: not a DICOM file" in problem


def test_a_lunar_bmd_without_a_t_score_gets_none_from_the_hologic_reference(
    tmp_path: Path,
) -> None:
    """TSCORE-FROM-BMD: the shipped reference is Hologic's; a Lunar BMD is not on its
    scale, so an export without T- or Z-scores is quarantined naming each site."""
    ds = lunar_dataset(_exam(spine_t=None), "xml_new", False, 0)
    ds.ImageComments = re.sub(r"<BMD_[TZ]SCORE>[^<]*</BMD_[TZ]SCORE>", "", ds.ImageComments)
    path = tmp_path / "no_scores.dcm"
    ds.save_as(path, enforce_file_format=True)
    prepared = prepare_input(Input(path, "ge_lunar_dicom"), ReadOptions())
    assert prepared.error is None and prepared.valid is not None
    assert prepared.valid.height == 0 and prepared.quarantine is not None
    quarantined = prepared.quarantine.row(0, named=True)
    why = ("not computed from the BMD: scanner_manufacturer is another manufacturer (the "
           "nhanes3 reference applies to Hologic scanners only)")
    assert quarantined["errors"] == (f"femoral_neck_t: {why}; scores: no site has a T-score "
                                     f"or a Z-score; total_hip_t: {why}")
