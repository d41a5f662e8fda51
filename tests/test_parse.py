"""Parsing the canonical CSV's cells: booleans, numbers, dates, header and BOM handling."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from transforms.parse import ParseOptions, derive_age_and_bmi, parse_cells
from transforms.read_csv import cells_from_text, decode_utf8


def parse_one(column: str, text: str, options: ParseOptions | None = None):
    cells = pl.DataFrame({"_row_number": [1], column: [text]})
    parsed = parse_cells(cells, options)
    return parsed[column][0], parsed["_parse_errors"][0].to_list()


@pytest.mark.parametrize("text", ["true", "TRUE", "Yes", "y", "Y", "1"])
def test_true_spellings(text: str) -> None:
    assert parse_one("kyphosis", text) == (True, [])


@pytest.mark.parametrize("text", ["false", "False", "NO", "n", "0"])
def test_false_spellings(text: str) -> None:
    assert parse_one("kyphosis", text) == (False, [])


@pytest.mark.parametrize("text", ["", "   "])
def test_blank_boolean_means_not_recorded(text: str) -> None:
    assert parse_one("current_smoker", text) == (None, [])


@pytest.mark.parametrize("text", ["maybe", "2", "yess"])
def test_bad_boolean_is_a_parse_error(text: str) -> None:
    value, errors = parse_one("current_smoker", text)
    assert value is None
    assert errors == ["current_smoker: is not a boolean (true/false, yes/no, y/n, 1/0)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("-2.5", -2.5), (" -1.0 ", -1.0), ("\u22122.5", -2.5), ("3", 3.0), ("0.61", 0.61)],
)
def test_numbers(text: str, expected: float) -> None:
    assert parse_one("spine_t", text) == (expected, [])


@pytest.mark.parametrize("text", ["abc", "1,5", "nan", "inf", "--1"])
def test_bad_numbers(text: str) -> None:
    assert parse_one("spine_t", text) == (None, ["spine_t: is not a number"])


def test_decimal_comma_only_when_told() -> None:
    assert parse_one("spine_bmd", "1,023", ParseOptions(decimal_comma=True)) == (1.023, [])


def test_vertebrae_must_be_whole() -> None:
    assert parse_one("spine_vertebrae", "3") == (3, [])
    assert parse_one("spine_vertebrae", "2.5")[1] == ["spine_vertebrae: is not a whole number"]


@pytest.mark.parametrize(("text", "ok"), [("2024-02-29", True), ("2023-02-29", False),
                                           ("2024-13-01", False), ("01/02/2024", False)])
def test_dates_must_be_real_iso_dates(text: str, ok: bool) -> None:
    value, errors = parse_one("exam_date", text)
    assert (value is not None) == ok
    assert (errors == []) == ok


def test_vocabulary_case_is_normalised() -> None:
    assert parse_one("sex", "f") == ("F", [])
    assert parse_one("menopausal_status", "Post") == ("post", [])


def test_header_is_case_insensitive_and_bom_is_accepted() -> None:
    text = decode_utf8(
        "\ufeffExam_ID,PATIENT_ID, exam_date ,Sex,Age_Years,spine_t\nE1,P1,2024-01-01,F,60,-1\n"
        .encode()
    )
    table = cells_from_text(text)
    assert table.cells.columns[:6] == [
        "_row_number", "exam_id", "patient_id", "exam_date", "sex", "age_years"
    ]
    assert table.cells["exam_id"].to_list() == ["E1"]


def test_age_is_derived_from_birth_date_in_completed_years() -> None:
    cells = pl.DataFrame(
        {"_row_number": [1, 2], "exam_date": ["2024-03-01", "2024-03-01"],
         "birth_date": ["1960-03-01", "1960-03-02"]}
    )
    ages = derive_age_and_bmi(parse_cells(cells))["age_years"].to_list()
    assert ages == [64.0, 63.0]


def test_given_age_wins_over_birth_date_and_bmi_is_derived() -> None:
    cells = pl.DataFrame(
        {"_row_number": [1], "exam_date": ["2024-03-01"], "birth_date": ["1960-03-01"],
         "age_years": ["70"], "height_cm": ["160"], "weight_kg": ["64"]}
    )
    row = derive_age_and_bmi(parse_cells(cells)).row(0, named=True)
    assert row["age_years"] == 70.0
    assert row["bmi"] == 25.0
    assert row["exam_date"] == dt.date(2024, 3, 1)
