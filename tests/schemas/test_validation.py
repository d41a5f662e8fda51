"""Each validation check on both sides of its bound, and the quarantine it produces."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from exam_rows import make_row
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.columns import CANONICAL_COLUMNS
from transforms.columns import RAW
from transforms.exam_frame import validate_cells
from transforms.quarantine import shared_exam_ids


def cells_of(rows: list[dict[str, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {c: [r.get(c, "") for r in rows] for c in CANONICAL_COLUMNS}, schema={
            c: pl.String for c in CANONICAL_COLUMNS}
    )
    return frame.with_row_index("_row_number", offset=1).with_columns(
        pl.col("_row_number").cast(pl.Int64),
        pl.struct(list(CANONICAL_COLUMNS)).struct.json_encode().alias(RAW),
    )


def errors_for(**overrides: object) -> str | None:
    split = validate_cells(cells_of([make_row(**overrides)]))
    assert split.rows_loaded + split.rows_quarantined == 1
    return split.quarantine["errors"][0] if split.rows_quarantined else None


def test_the_base_row_is_valid() -> None:
    assert errors_for() is None


BOUNDS = [
    # column, just inside, just outside (each side), expected message fragment
    ("femoral_neck_t", ["-8", "8"], ["-8.01", "8.01"], "femoral_neck_t: is"),
    ("femoral_neck_z", ["-8", "8"], ["-8.1", "8.1"], "femoral_neck_z: is"),
    ("femoral_neck_bmd", ["0.001", "2.999"], ["0", "3"], "femoral_neck_bmd: is"),
    ("spine_bmd", ["0.5"], ["-0.1", "3.5"], "spine_bmd: is"),
    ("age_years", ["0.5", "120"], ["-1", "120.5"], "age_years: is"),
    ("height_cm", ["50", "250"], ["49", "251"], "height_cm: is"),
    ("weight_kg", ["10", "350"], ["9", "351"], "weight_kg: is"),
    ("bmi", ["8", "80"], ["7.9", "80.1"], "bmi: is"),
    ("frax_major_pct", ["0", "100"], ["-0.1", "100.1"], "frax_major_pct: is"),
    ("frax_hip_pct", ["0", "100"], ["-1", "150"], "frax_hip_pct: is"),
    ("glucocorticoid_mg_day", ["0", "7.5"], ["-0.1"], "glucocorticoid_mg_day: is below"),
    ("glucocorticoid_months", ["0", "3"], ["-1"], "glucocorticoid_months: is below"),
    ("height_loss_cm", ["0", "4"], ["-0.5"], "height_loss_cm: is below"),
    ("alcohol_units_day", ["0", "3"], ["-1"], "alcohol_units_day: is below"),
    ("spine_vertebrae", ["1", "4"], ["0", "5"], "spine_vertebrae: is"),
]


@pytest.mark.parametrize(("column", "inside", "outside", "message"), BOUNDS)
def test_plausible_ranges_on_both_sides(
    column: str, inside: list[str], outside: list[str], message: str
) -> None:
    extra = {"birth_date": ""} if column == "age_years" else {}
    for value in inside:
        assert errors_for(**{column: value}, **extra) is None, (column, value)
    for value in outside:
        errors = errors_for(**{column: value}, **extra)
        assert errors is not None and message in errors, (column, value, errors)


@pytest.mark.parametrize("column", ["exam_id", "patient_id", "exam_date", "sex"])
def test_required_fields(column: str) -> None:
    assert errors_for(**{column: ""}, age_years="62") == f"{column}: is required"


def test_age_or_birth_date_is_required() -> None:
    assert errors_for(birth_date="", age_years="") == "age_years: is required"
    assert errors_for(birth_date="", age_years="62") is None


ISO_EXPECTED = "is not a real date in the form YYYY-MM-DD"


@pytest.mark.parametrize("column", ["exam_date", "birth_date"])
def test_an_age_not_derived_because_a_date_did_not_parse_is_not_also_required(
    column: str,
) -> None:
    """The date's own reason says it all: fixing the date fills the age."""
    assert errors_for(**{column: "2024-02-30"}, age_years="") == f"{column}: {ISO_EXPECTED}"


def test_an_age_that_fixing_the_date_would_not_fill_is_still_required() -> None:
    """No birth date either: the age is required whatever the exam date says."""
    assert errors_for(exam_date="2024-02-30", birth_date="", age_years="") == (
        f"age_years: is required; exam_date: {ISO_EXPECTED}")


def test_a_bmi_not_derived_because_a_number_did_not_parse_is_only_the_numbers_reason() -> None:
    assert errors_for(height_cm="1,65", bmi="") == "height_cm: is not a number"


@pytest.mark.parametrize(("value", "ok"), [("F", True), ("M", True), ("X", False), ("U", False)])
def test_sex_vocabulary(value: str, ok: bool) -> None:
    extra = {"menopausal_status": ""} if value == "M" else {}
    assert (errors_for(sex=value, **extra) is None) == ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("pre", True), ("peri", True), ("post", True), ("unknown", True), ("", True),
     ("sometimes", False)],
)
def test_menopausal_status_vocabulary(value: str, ok: bool) -> None:
    assert (errors_for(menopausal_status=value) is None) == ok


def test_exam_date_not_in_the_future() -> None:
    today = dt.date.today()
    assert errors_for(exam_date=today.isoformat()) is None
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert errors_for(exam_date=tomorrow) == "exam_date: must not be in the future"


def test_birth_date_before_exam_date() -> None:
    assert errors_for(birth_date="2024-02-29", exam_date="2024-03-01", age_years="0") is None
    same_day = errors_for(birth_date="2024-03-01", exam_date="2024-03-01", age_years="0")
    assert same_day == "birth_date: must be before exam_date"


def test_at_least_one_scored_site() -> None:
    no_scores = {"femoral_neck_t": "", "femoral_neck_z": ""}
    assert errors_for(**no_scores) == "scores: no site has a T-score or a Z-score"
    assert errors_for(**no_scores, radius_33_z="-1.2") is None


def test_unparseable_cells_are_reasons_not_blanks() -> None:
    errors = errors_for(femoral_neck_t="abc", kyphosis="maybe")
    assert errors == (
        "femoral_neck_t: is not a number; "
        "kyphosis: is not a boolean (true/false, yes/no, y/n, 1/0)"
    )


def test_every_failed_check_is_listed() -> None:
    errors = errors_for(sex="X", femoral_neck_t="9", frax_hip_pct="150")
    assert errors is not None
    assert errors.count("; ") == 2
    assert "sex: is not one of the allowed values" in errors


def test_conflicting_exam_ids_quarantine_both_rows_and_exact_copies_count_once() -> None:
    rows = [
        make_row(exam_id="A"),
        make_row(exam_id="A"),  # exact copy: loaded once, counted as duplicate
        make_row(exam_id="B"),
        make_row(exam_id="B", femoral_neck_t="-2.2"),  # same id, different content
        make_row(exam_id="C"),
    ]
    split = validate_cells(cells_of(rows))
    assert split.valid["exam_id"].to_list() == ["A", "C"]
    assert split.rows_duplicate == 1
    assert split.quarantine["row_number"].to_list() == [3, 4]
    assert set(split.quarantine["errors"]) == {
        "exam_id: appears 2 times in this file with different content"
    }
    assert split.rows_loaded + split.rows_quarantined + split.rows_duplicate == len(rows)


def test_quarantine_keeps_row_number_and_raw_row() -> None:
    split = validate_cells(cells_of([make_row(exam_id="OK"), make_row(exam_id="BAD", sex="")]))
    row = split.quarantine.row(0, named=True)
    assert row["row_number"] == 2
    assert row["exam_id"] == "BAD"
    assert '"exam_id":"BAD"' in row["raw"]


@given(st.lists(st.one_of(st.none(), st.sampled_from(["E1", "E2", "E3", "E4"])), max_size=12))
@settings(max_examples=200, deadline=None)
def test_shared_exam_ids_marks_every_repeated_non_null_id(ids: list[str | None]) -> None:
    """The counting shortcut (no repeats: nothing to mark) agrees with the row-wise mask."""
    key = pl.Series("exam_id", ids, dtype=pl.String)
    expected = [i is not None and ids.count(i) > 1 for i in ids]
    assert shared_exam_ids(key).to_list() == expected
