"""NHANES folders of SAS transport files: naming styles, scan statuses, accounting."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from nhanes_files import participant, write_nhanes

from pipelines.ingest.prepare import prepare_input
from schemas.errors import FileProblem
from sources import nhanes
from sources.base import ReadOptions
from sources.detect import Input, discover


def _cells(source) -> dict[str, dict]:  # noqa: ANN001 - SourceFile
    return {row["exam_id"]: row for row in source.cells.to_dicts()}


@pytest.mark.parametrize("style", ["P", "J"])
def test_both_naming_styles_read_the_same_exams(tmp_path: Path, style: str) -> None:
    people = [participant(101, neck=0.558, total=0.700, spine_bmd=0.772),
              participant(102, sex=1, age=80, femur=2, spine_bmd=1.047, weight=2500.0,
                          psu=2, stratum=151, mother=1.0, father=9.0)]
    folder = write_nhanes(tmp_path / style, people, style=style, with_optional=style == "P")
    source = nhanes.read(folder)
    cells = _cells(source)
    first, second = cells[f"NHANES-{style}-101"], cells[f"NHANES-{style}-102"]
    assert (first["sex"], first["age_years"], first["femoral_neck_bmd"],
            first["total_hip_bmd"], first["spine_bmd"], first["spine_vertebrae"]) == (
        "F", "60", "0.558", "0.7", "0.772", "4")
    assert first["patient_id"] == first["exam_id"]
    assert first["exam_date"] == {"P": "2018-08-16", "J": "2018-01-01"}[style]
    assert first["scanner_manufacturer"] == "Hologic"
    # femur status 2: no femur values at all (never zeros); the spine still counts
    assert (second["sex"], second["age_years"], second["femoral_neck_bmd"],
            second["total_hip_bmd"], second["spine_bmd"]) == ("M", "80", None, None, "1.047")
    design = source.side_tables["survey_design"].sort("exam_id").to_dicts()
    cycle = {"P": "2017-2020P", "J": "2017-2018"}[style]
    assert design == [
        {"exam_id": f"NHANES-{style}-101", "cycle": cycle, "weight_mec": 1000.0, "psu": 1,
         "stratum": 150},
        {"exam_id": f"NHANES-{style}-102", "cycle": cycle, "weight_mec": 2500.0, "psu": 2,
         "stratum": 151},
    ]
    if style == "P":  # OSQ present: mother yes -> parent hip fracture yes; both no -> no
        assert (first["parent_hip_fracture"], second["parent_hip_fracture"]) == ("no", "yes")
    else:  # no OSQ file: not recorded
        assert first["parent_hip_fracture"] is None and first["height_cm"] is None


def test_every_scan_status_is_handled_and_counted(tmp_path: Path) -> None:
    people, seqn = [], 200
    for femur in (1, 2, 3, 4, 5):
        for spine in (1, 2, 3, 4, 5):
            seqn += 1
            people.append(participant(seqn, femur=femur, spine=spine))
    seqn += 1  # status 1 but the total femur BMD missing: no femur result
    people.append(participant(seqn, femur=1, spine=5, total=None))
    seqn += 1  # an exact zero BMD is not a measurement
    people.append(participant(seqn, femur=5, spine=1, spine_bmd=0.0))
    source = nhanes.read(write_nhanes(tmp_path / "all", people))
    cells = _cells(source)
    loaded = {int(k.rsplit("-", 1)[1]) for k in cells}
    femur_ok = {p["SEQN"] for p in people if p["DXAFMRST"] == 1 and p["DXXOFBMD"]}
    spine_ok = {p["SEQN"] for p in people if p["DXASPNST"] == 1 and p["DXXOSBMD"]}
    assert loaded == femur_ok | spine_ok
    for row in cells.values():
        seq = int(row["exam_id"].rsplit("-", 1)[1])
        assert (row["femoral_neck_bmd"] is not None) == (seq in femur_ok)
        assert (row["spine_bmd"] is not None) == (seq in spine_ok)
        assert row["spine_bmd"] != "0.0"
    # every participant: an exam, or counted by its pair of status codes
    assert source.cells.height + sum(source.excluded.values()) == len(people)
    assert source.excluded[
        "participants_without_a_valid_scan_(femur_status_2,_spine_status_3)"] == 1
    assert source.excluded[
        "participants_without_a_valid_scan_(femur_status_1,_spine_status_5)"] == 1
    assert source.excluded[
        "participants_without_a_valid_scan_(femur_status_5,_spine_status_1)"] == 1
    femur_note, spine_note = source.notes[:2]
    assert femur_note == ("femur scan status (DXAFMRST): 1 valid 6; 2 completed, data "
                          "invalid 5; 3 not scanned, pregnancy 5; 4 not scanned, weight over "
                          "table limit 5; 5 not scanned, other reason 6")
    assert spine_note.startswith("spine scan status (DXASPNST): 1 valid 6; 2 completed")


def test_participant_without_demographics_is_rejected_without_its_seqn(tmp_path: Path) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(301), participant(302)])
    demo = nhanes.read_xpt(folder / "P_DEMO.XPT", "DEMO").filter(pl.col("SEQN") == 301)
    import pyreadstat

    pyreadstat.write_xport(demo.cast(pl.Float64), str(folder / "P_DEMO.XPT"),
                           file_format_version=5, table_name="DEMO")
    source = nhanes.read(folder)
    assert source.cells.get_column("exam_id").to_list() == ["NHANES-P-301"]
    assert source.rejected.get_column("errors").to_list() == [
        "DXA participant row 2: no DEMO row for its SEQN"]
    assert "302" not in source.rejected.get_column("errors")[0]
    assert json.loads(source.rejected.get_column("raw")[0])["SEQN"] == 302


def test_detection_and_folder_problems(tmp_path: Path) -> None:
    folder = write_nhanes(tmp_path / "survey", [participant(1)])
    inputs, ignored = discover([tmp_path])
    assert [(i.path, i.source_format) for i in inputs] == [(folder, "nhanes")]
    assert ignored == []
    assert nhanes.sniff(tmp_path / "nowhere.csv") == "not an NHANES folder"
    (folder / "P_DXXFEM.XPT").rename(folder / "DXXFEM_J.XPT")  # two cycles in one folder
    with pytest.raises(FileProblem, match="mixes files of several cycles"):
        nhanes.read(folder)
    (folder / "DXXFEM_J.XPT").unlink()
    prepared = prepare_input(Input(folder, "nhanes"), ReadOptions())
    assert prepared.error == "P_DEMO.XPT: no DXXFEM file beside it (expected P_DXXFEM.XPT)"


def test_a_file_missing_a_required_variable_fails_naming_it(tmp_path: Path) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(1)])
    import pyreadstat

    femur = nhanes.read_xpt(folder / "P_DXXFEM.XPT", "DXXFEM").drop("DXXNKBMD")
    pyreadstat.write_xport(femur.cast(pl.Float64), str(folder / "P_DXXFEM.XPT"),
                           file_format_version=5, table_name="DXXFEM")
    with pytest.raises(FileProblem, match=r"^P_DXXFEM.XPT lacks column\(s\): DXXNKBMD$"):
        nhanes.read(folder)
    (folder / "P_BMX.XPT").write_bytes(b"not a transport file")
    with pytest.raises(FileProblem, match="not a readable SAS transport file"):
        nhanes.read(folder)


def test_prepared_exams_get_t_scores_from_the_reference(tmp_path: Path) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(1, neck=0.558, total=0.942,
                                                        spine_bmd=0.772)])
    prepared = prepare_input(Input(folder, "nhanes"), ReadOptions())
    assert prepared.error is None and prepared.rows_read == 1
    exam = prepared.valid.to_dicts()[0]
    assert (exam["femoral_neck_t"], exam["total_hip_t"], exam["spine_t"]) == (-2.5, 0.0, -2.5)
    assert exam["femoral_neck_z"] is None and exam["spine_z"] is None
    # TSCORE-FROM-BMD: NHANES scans on Hologic, and the adapter records it
    assert exam["scanner_manufacturer"] == "Hologic"
    assert all(exam[f"_t_not_computed_{site}"] is None
               for site in ("spine", "femoral_neck", "total_hip", "radius_33"))
