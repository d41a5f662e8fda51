"""Parsing the canonical CSV's cells: booleans, numbers, dates, header and BOM handling."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from schemas.columns import CANONICAL_COLUMNS
from sources.read_csv import cells_from_text
from transforms.parse import ParseOptions, _parse_all, derive_age_and_bmi, parse_cells


def parse_one(column: str, text: str, options: ParseOptions | None = None):
    cells = pl.DataFrame({"_row_number": [1], column: [text]})
    parsed = parse_cells(cells, options)
    return parsed[column][0], [r["message"] for r in parsed["_parse_errors"][0].to_list()]


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


DMY, MDY = ParseOptions(date_format="%d/%m/%Y"), ParseOptions(date_format="%m/%d/%Y")


@pytest.mark.parametrize(("text", "options", "message"), [
    # ISO expected: a day-first or month-first date names the option that reads it
    ("15/03/2024", None, "exam_date: is not a real date in the form YYYY-MM-DD"
                         " (it reads as DD/MM/YYYY: try --date-format DMY)"),
    ("03/15/2024", None, "exam_date: is not a real date in the form YYYY-MM-DD"
                         " (it reads as MM/DD/YYYY: try --date-format MDY)"),
    ("5/3/2024", None, "exam_date: is not a real date in the form YYYY-MM-DD (it reads as"
                       " DD/MM/YYYY or MM/DD/YYYY: try --date-format DMY or MDY)"),
    # no form reads it: no hint
    ("2024-13-45", None, "exam_date: is not a real date in the form YYYY-MM-DD"),
    ("15.03.2024", None, "exam_date: is not a real date in the form YYYY-MM-DD"),
    ("15/03/24", None, "exam_date: is not a real date in the form YYYY-MM-DD"),
    ("31/31/2024", None, "exam_date: is not a real date in the form YYYY-MM-DD"),
    # --date-format given: the other order, or ISO, is named
    ("03/15/2024", DMY, "exam_date: is not a real date in the form DD/MM/YYYY"
                        " (it reads as MM/DD/YYYY: try --date-format MDY)"),
    ("15/03/2024", MDY, "exam_date: is not a real date in the form MM/DD/YYYY"
                        " (it reads as DD/MM/YYYY: try --date-format DMY)"),
    ("2024-03-15", DMY, "exam_date: is not a real date in the form DD/MM/YYYY"
                        " (it reads as YYYY-MM-DD: leave out --date-format)"),
])
def test_a_date_in_another_form_hints_the_option_without_quoting_the_cell(
    text: str, options: ParseOptions | None, message: str
) -> None:
    value, errors = parse_one("exam_date", text, options)
    assert value is None
    assert errors == [message]
    assert text not in message


def test_a_date_in_the_expected_form_has_no_reason() -> None:
    assert parse_one("exam_date", "15/03/2024", DMY) == (dt.date(2024, 3, 15), [])
    assert parse_one("exam_date", "03/15/2024", MDY) == (dt.date(2024, 3, 15), [])


def test_vocabulary_case_is_normalised() -> None:
    assert parse_one("sex", "f") == ("F", [])
    assert parse_one("menopausal_status", "Post") == ("post", [])


def test_header_is_case_insensitive_and_bom_is_accepted() -> None:
    text = "\ufeffExam_ID,PATIENT_ID, exam_date ,Sex,Age_Years,spine_t\nE1,P1,2024-01-01,F,60,-1\n"
    table = cells_from_text(text)  # encoded as UTF-8, the BOM becomes bytes EF BB BF
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


# --- the fast path and the careful path give the same frame ---------------------------

_CELL_TEXTS = st.one_of(
    st.none(),
    st.sampled_from(
        ["", " ", "NA", "n/a", "-", "NULL", "#n/a", "nan", "inf", "-inf", "1e30", "3.0", "2.5",
         " -1.0 ", "\u22122.5", "1,5", "0,812", "1.234,5", "yes", "No", "Y", "0", "1", "TRUE",
         "maybe", "2024-02-29", "2023-02-29", " 2024-01-05", "01/02/2024", "13/02/2024",
         "F", "m", "Post", "peri", "left", "RIGHT"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-10, 10).map(str),
    st.text(max_size=6),
)


_GOOD_TEXTS = {
    "number": ["2.5", "-1.0", "3", "0.812"],
    "integer": ["3", "4"],
    "bool": ["yes", "0", "True"],
    "date": ["2024-02-29", "1950-12-31"],
    "text": ["F", "post", "E1"],
    "codes": ["hip", "Vertebral;hip", " forearm ; ", "hip;hip", "knee", ";"],
    "code": ["denosumab", "Drug_Holiday", " ALENDRONATE ", "aspirin", ";"],
}


def _column_cells(kind: str, rows: int) -> st.SearchStrategy[list[str | None]]:
    """A column's cells: mostly well-formed for its kind, sometimes with a small pool of
    oddities mixed in, so that a column often holds a single kind of oddity (e.g. only
    "nan" among good numbers) and the fast path's per-column shortcuts are exercised,
    not just its per-row fallback."""
    odd = st.lists(_CELL_TEXTS, min_size=1, max_size=2)
    pool = st.one_of(st.just([]), st.just([]), odd).map(
        lambda extra: [*_GOOD_TEXTS[kind], *extra, None]
    )
    return pool.flatmap(
        lambda cells: st.lists(st.sampled_from(cells), min_size=rows, max_size=rows)
    )


#: Two columns of each kind (the parser treats every column of a kind alike), the one
#: codes column (parsed once per distinct text, then joined back) and the one code column.
_SAMPLE_COLUMNS = ("exam_id", "sex", "exam_date", "birth_date", "spine_t", "frax_hip_pct",
                   "spine_vertebrae", "kyphosis", "on_treatment", "prior_fracture_sites",
                   "treatment_drug")


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    rows=st.integers(1, 12),
    options=st.sampled_from(
        [ParseOptions(), ParseOptions(null_tokens=("NA", "N/A", "-", "NULL", "#N/A")),
         ParseOptions(decimal_comma=True, date_format="%d/%m/%Y", null_tokens=("NA",))]
    ),
)
def test_fast_path_equals_careful_path(data, rows: int, options: ParseOptions) -> None:
    """`parse_cells` (fast path + careful re-parse) == `_parse_all` (careful path only)."""
    cells = pl.DataFrame(
        {"_row_number": list(range(1, rows + 1))}
        | {
            name: data.draw(_column_cells(CANONICAL_COLUMNS[name], rows), label=name)
            for name in _SAMPLE_COLUMNS
        },
        schema_overrides={name: pl.String for name in _SAMPLE_COLUMNS},
    )
    assert_frame_equal(parse_cells(cells, options), _parse_all(cells, options))


def test_non_finite_numbers_are_errors_even_when_the_column_has_no_other_problem() -> None:
    """The fast path's per-column shortcut must not let "nan"/"inf" through as values."""
    cells = pl.DataFrame({"_row_number": [1, 2, 3], "spine_t": ["nan", "-1.5", "inf"]})
    parsed = parse_cells(cells)
    assert parsed["spine_t"].to_list() == [None, -1.5, None]
    reason = {"column": "spine_t", "code": "NOT_A_NUMBER", "message": "spine_t: is not a number"}
    assert parsed["_parse_errors"].to_list() == [[reason], [], [reason]]
