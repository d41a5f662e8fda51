"""Messy canonical CSVs: each tolerated spelling has its own small fixture file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from pipelines.ingest.prepare import PreparedInput, prepare_input
from sources.base import ReadOptions
from sources.detect import Input

MESSY = Path(__file__).resolve().parents[1] / "fixtures" / "messy"


def prepare(name: str, date_format: str | None = None) -> PreparedInput:
    prepared = prepare_input(
        Input(MESSY / name, "canonical_csv"), ReadOptions(date_format=date_format)
    )
    assert prepared.error is None, prepared.error
    return prepared


def column(prepared: PreparedInput, name: str) -> list:
    assert prepared.valid is not None
    return prepared.valid.sort("exam_id")[name].to_list()


def test_semicolon_and_decimal_comma() -> None:
    prepared = prepare("semicolon_decimal_comma.csv")
    assert prepared.quarantine is not None and prepared.quarantine.height == 0
    assert column(prepared, "femoral_neck_bmd") == [0.610, 0.700]
    assert column(prepared, "femoral_neck_t") == [-2.1, -1.2]
    assert column(prepared, "spine_t") == [-1.5, None]
    assert column(prepared, "height_cm") == [165.5, 172.0]
    assert "decimal commas" in prepared.notes
    assert "delimiter semicolon" in prepared.notes


def test_tab_delimiter() -> None:
    prepared = prepare("tab_delimited.tsv")
    assert column(prepared, "total_hip_bmd") == [0.802]
    assert column(prepared, "total_hip_t") == [-1.4]
    assert "delimiter tab" in prepared.notes


def test_utf8_bom_and_case_insensitive_header() -> None:
    prepared = prepare("utf8_bom.csv")
    assert column(prepared, "exam_id") == ["E1"]
    assert column(prepared, "patient_id") == ["P\u00e9-1"]
    assert prepared.notes == []


def test_windows_1252_is_decoded_with_a_note() -> None:
    prepared = prepare("windows1252.csv")
    assert column(prepared, "patient_id") == ["P\u00e9-1"]
    assert column(prepared, "scanner_model") == ["Horizon \u00c4"]
    assert column(prepared, "spine_t") == [-2.6]
    assert any("Windows-1252" in note for note in prepared.notes)


def test_unicode_minus_sign_in_scores() -> None:
    prepared = prepare("unicode_minus.csv")
    assert column(prepared, "femoral_neck_t") == [-2.7]
    assert column(prepared, "femoral_neck_z") == [-1.1]


def test_null_tokens_are_blanks_but_negative_numbers_are_not() -> None:
    prepared = prepare("null_tokens.csv")
    assert prepared.quarantine is not None and prepared.quarantine.height == 0
    assert column(prepared, "spine_t") == [-2.5, None]
    assert column(prepared, "spine_z") == [None, -0.5]
    assert column(prepared, "femoral_neck_t") == [None, None]
    assert column(prepared, "femoral_neck_z") == [None, -1.0]
    assert column(prepared, "radius_33_t") == [None, None]
    assert column(prepared, "current_smoker") == [None, None]


def test_trailing_empty_columns_are_dropped_silently() -> None:
    prepared = prepare("trailing_empty_columns.csv")
    assert prepared.extra_columns == []
    assert column(prepared, "spine_t") == [-2.6]


def test_extra_columns_are_set_aside_and_reported_once() -> None:
    prepared = prepare("extra_columns.csv")
    assert prepared.extra_columns == ["operator", "room"]
    assert prepared.valid is not None and prepared.valid.height == 2
    assert "operator" not in prepared.valid.columns


@pytest.mark.parametrize(
    ("name", "fmt"), [("dates_dmy.csv", "DMY"), ("dates_mdy.csv", "MDY")]
)
def test_slash_dates_with_the_operator_option(name: str, fmt: str) -> None:
    prepared = prepare(name, fmt)
    assert column(prepared, "exam_date") == [date(2024, 3, 1), date(2023, 12, 31)]
    assert column(prepared, "birth_date") == [date(1961, 6, 15), date(1950, 1, 5)]
    assert f"dates read as {fmt}" in prepared.notes


def test_slash_dates_without_the_option_are_quarantined_never_guessed() -> None:
    prepared = prepare("dates_dmy.csv")
    assert prepared.valid is not None and prepared.valid.height == 0
    assert prepared.quarantine is not None and prepared.quarantine.height == 2
    errors = prepared.quarantine["errors"].to_list()
    assert all("exam_date: is not a real date" in e for e in errors)


def test_quoted_decimal_comma_with_comma_delimiter() -> None:
    prepared = prepare("quoted_decimal_comma.csv")
    assert column(prepared, "femoral_neck_bmd") == [0.612]
    assert column(prepared, "femoral_neck_t") == [-2.2]


def test_point_decimals_with_semicolon_stay_points(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text(
        "exam_id;patient_id;exam_date;age_years;sex;spine_bmd;spine_t\n"
        "E1;P1;2024-03-01;70;F;1.023;-0.2\n"
    )
    prepared = prepare_input(Input(path, "canonical_csv"))
    assert prepared.valid is not None
    assert prepared.valid["spine_bmd"].to_list() == [1.023]


def test_messy_round_trip_matches_the_clean_file(tmp_path: Path) -> None:
    from samplegen.canonical import generate_exams
    from samplegen.messy import write_messy_csv, write_plain_csv

    exams = generate_exams(60, seed=7)
    clean = write_plain_csv(exams, tmp_path / "clean.csv", seed=7)
    messy = write_messy_csv(exams, tmp_path / "messy.csv", seed=7, date_format="DMY")
    a = prepare_input(Input(clean, "canonical_csv"))
    b = prepare_input(Input(messy, "canonical_csv"), ReadOptions(date_format="DMY"))
    assert a.error is None and b.error is None, (a.error, b.error)
    assert a.valid is not None and b.valid is not None
    assert b.valid.height == a.valid.height == 60
    columns = [c for c in a.valid.columns if not c.startswith("_")]
    assert_frame_equal(a.valid.select(columns), b.valid.select(columns))
    assert b.extra_columns == ["site_note"]


def test_bytes_neither_utf8_nor_cp1252_fail_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"exam_id,patient_id,exam_date,sex,age_years\nE1,P\x81,2024-01-01,F,60\n")
    prepared = prepare_input(Input(path, "canonical_csv"))
    assert prepared.error == (
        "undecodable bytes: neither UTF-8 nor Windows-1252 at byte 47 (line 2)"
    )


def test_sample_data_holds_one_apex_export_and_lunar_files() -> None:
    from sources.detect import discover

    sample = Path(__file__).resolve().parents[2] / "sample_data"
    inputs, _ = discover([sample / "apex", sample / "lunar"])
    formats = [i.source_format for i in inputs]
    assert formats.count("hologic_apex") == 1
    assert formats.count("ge_lunar_dicom") >= 18
    assert None not in formats
