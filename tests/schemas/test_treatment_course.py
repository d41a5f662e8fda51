"""The treatment-course columns (registry contract §1): `treatment_drug` (one code of a
vocabulary, any case), `treatment_start_date` and `last_fracture_date` (dates of the
patient's history: not after the exam, not before birth), the answers they imply
(`on_treatment`, `prior_fragility_fracture`) and the contradictions quarantined."""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_rows import make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.store import registry
from schemas.columns import DRUG_HOLIDAY, TREATMENT_DRUGS
from sources.base import ReadOptions
from sources.detect import discover
from transforms.precision import load_precision

UNKNOWN = ("treatment_drug: holds a code that is not one of alendronate, risedronate,"
           " ibandronate, zoledronate, denosumab, teriparatide, abaloparatide, romosozumab,"
           " raloxifene, hormone_therapy, other, drug_holiday")
DRUG_SAID_NO = "treatment_drug: names a drug but on_treatment is no"
HOLIDAY_SAID_YES = "treatment_drug: is drug_holiday but on_treatment is yes"
FRACTURE_SAID_NO = "last_fracture_date: gives a date but prior_fragility_fracture is no"
START_AFTER_EXAM = "treatment_start_date: must not be after exam_date"
START_BEFORE_BIRTH = "treatment_start_date: must not be before birth_date"
FRACTURE_AFTER_EXAM = "last_fracture_date: must not be after exam_date"
FRACTURE_BEFORE_BIRTH = "last_fracture_date: must not be before birth_date"

#: BASE_ROW's exam and birth dates (`exam_rows`).
EXAM_DATE, BIRTH_DATE = "2024-03-01", "1961-06-15"
DRUGS = [code for code in TREATMENT_DRUGS if code != DRUG_HOLIDAY]


def prepared_rows(tmp_path: Path, rows: list[dict[str, str]], date_format: str | None = None):
    inputs, _ = discover([write_csv(tmp_path / "f.csv", rows)])
    prepared = prepare_input(inputs[0], ReadOptions(date_format=date_format))
    assert prepared.error is None, prepared.error
    return prepared


def valid_row(tmp_path: Path, **cells: object) -> dict[str, object]:
    prepared = prepared_rows(tmp_path, [make_row(**cells)])
    assert prepared.quarantine.height == 0, prepared.quarantine["errors"].to_list()
    return prepared.valid.row(0, named=True)


def errors_of(tmp_path: Path, **cells: object) -> list[str]:
    prepared = prepared_rows(tmp_path, [make_row(**cells)])
    assert prepared.valid.height == 0
    return prepared.quarantine["errors"].to_list()


# --- treatment_drug: the vocabulary -------------------------------------------------------


@pytest.mark.parametrize("code", TREATMENT_DRUGS)
@pytest.mark.parametrize("spelling", [str.lower, str.upper, str.title, lambda c: f"  {c} "])
def test_every_drug_code_is_read_in_any_case(tmp_path: Path, code: str, spelling) -> None:
    row = valid_row(tmp_path, treatment_drug=spelling(code), on_treatment="")
    assert row["treatment_drug"] == code
    assert row["on_treatment"] is (code != DRUG_HOLIDAY)


@pytest.mark.parametrize("text", ["aspirin", "alendronate;denosumab", "bisphosphonate",
                                  "drug holiday", "=HYPERLINK(\"x\")"])
def test_an_unknown_drug_code_is_quarantined_naming_the_allowed_codes(
    tmp_path: Path, text: str
) -> None:
    prepared = prepared_rows(tmp_path, [make_row(treatment_drug=text, on_treatment="yes")])
    assert prepared.valid.height == 0
    errors = prepared.quarantine["errors"].to_list()
    assert errors == [UNKNOWN]
    assert prepared.quarantine["reason_codes"].to_list() == [["UNKNOWN_CODE"]]
    assert text not in errors[0]


@pytest.mark.parametrize("text", ["", "  ", "NA"])
def test_a_blank_drug_is_not_recorded(tmp_path: Path, text: str) -> None:
    row = valid_row(tmp_path, treatment_drug=text, on_treatment="")
    assert row["treatment_drug"] is None
    assert row["on_treatment"] is None  # nothing implied


# --- on_treatment: implied where blank, contradicted when it disagrees ------------------------


@pytest.mark.parametrize(("drug", "written", "stored"), [
    ("denosumab", "", True),
    ("denosumab", "yes", True),
    ("Alendronate", "Y", True),
    ("drug_holiday", "", False),
    ("drug_holiday", "no", False),
    ("", "yes", True),
    ("", "no", False),
])
def test_the_drug_implies_on_treatment_where_blank(
    tmp_path: Path, drug: str, written: str, stored: bool
) -> None:
    assert valid_row(tmp_path, treatment_drug=drug, on_treatment=written)["on_treatment"] is stored


@pytest.mark.parametrize("drug", DRUGS)
def test_a_drug_named_with_on_treatment_no_is_contradictory(tmp_path: Path, drug: str) -> None:
    assert errors_of(tmp_path, treatment_drug=drug, on_treatment="no") == [DRUG_SAID_NO]


def test_a_drug_holiday_with_on_treatment_yes_is_contradictory(tmp_path: Path) -> None:
    assert errors_of(tmp_path, treatment_drug="DRUG_HOLIDAY", on_treatment="true") == [
        HOLIDAY_SAID_YES]


# --- last_fracture_date: implies prior_fragility_fracture --------------------------------------


@pytest.mark.parametrize(("date", "written", "stored"), [
    ("2020-05-04", "", True),
    ("2020-05-04", "yes", True),
    ("", "", None),
    ("", "no", False),
    ("", "yes", True),
])
def test_a_fracture_date_implies_a_prior_fracture_where_blank(
    tmp_path: Path, date: str, written: str, stored: bool | None
) -> None:
    row = valid_row(tmp_path, last_fracture_date=date, prior_fragility_fracture=written)
    assert row["prior_fragility_fracture"] is stored
    assert (row["last_fracture_date"] is None) is (date == "")


def test_a_fracture_date_with_no_prior_fracture_is_contradictory(tmp_path: Path) -> None:
    assert errors_of(tmp_path, last_fracture_date="2020-05-04",
                     prior_fragility_fracture="no") == [FRACTURE_SAID_NO]


# --- the dates: not after the exam, not before birth -------------------------------------------


@pytest.mark.parametrize("column", ["treatment_start_date", "last_fracture_date"])
@pytest.mark.parametrize("date", [EXAM_DATE, "2024-02-29", BIRTH_DATE, "1990-01-01"])
def test_a_history_date_from_birth_to_the_exam_day_is_valid(
    tmp_path: Path, column: str, date: str
) -> None:
    row = valid_row(tmp_path, **{column: date}, prior_fragility_fracture="")
    assert row[column].isoformat() == date


@pytest.mark.parametrize(("column", "date", "error"), [
    ("treatment_start_date", "2024-03-02", START_AFTER_EXAM),
    ("treatment_start_date", "2031-01-01", START_AFTER_EXAM),
    ("treatment_start_date", "1961-06-14", START_BEFORE_BIRTH),
    ("last_fracture_date", "2024-03-02", FRACTURE_AFTER_EXAM),
    ("last_fracture_date", "1950-01-01", FRACTURE_BEFORE_BIRTH),
])
def test_a_history_date_after_the_exam_or_before_birth_is_quarantined(
    tmp_path: Path, column: str, date: str, error: str
) -> None:
    assert errors_of(tmp_path, **{column: date}, prior_fragility_fracture="") == [error]


def test_without_a_birth_date_only_the_exam_date_bounds_a_history_date(tmp_path: Path) -> None:
    row = valid_row(tmp_path, birth_date="", age_years="62",
                    treatment_start_date="1950-01-01", last_fracture_date="1950-01-01",
                    prior_fragility_fracture="")
    assert str(row["treatment_start_date"]) == "1950-01-01"
    assert errors_of(tmp_path, birth_date="", age_years="62", treatment_start_date="1899-12-31"
                     ) == ["treatment_start_date: is before 1900-01-01, the earliest "
                           "plausible date"]


def test_every_problem_of_a_row_is_named(tmp_path: Path) -> None:
    assert errors_of(tmp_path, treatment_drug="zoledronate", on_treatment="no",
                     treatment_start_date="2025-01-01", last_fracture_date="1960-01-01",
                     prior_fragility_fracture="no") == [
        "; ".join(sorted([DRUG_SAID_NO, START_AFTER_EXAM, FRACTURE_BEFORE_BIRTH,
                          FRACTURE_SAID_NO]))]


# --- --date-format --------------------------------------------------------------------------


def test_the_history_dates_follow_the_date_format(tmp_path: Path) -> None:
    dmy = {"exam_date": "01/03/2024", "birth_date": "15/06/1961"}
    prepared = prepared_rows(tmp_path, [
        make_row(exam_id="E1", **dmy, treatment_start_date="13/02/2019",
                 last_fracture_date="02/01/2018", prior_fragility_fracture=""),
        make_row(exam_id="E2", **dmy, treatment_start_date="2019-02-13"),
    ], date_format="DMY")
    row = prepared.valid.row(0, named=True)
    assert (str(row["treatment_start_date"]), str(row["last_fracture_date"])) == (
        "2019-02-13", "2018-01-02")
    assert row["prior_fragility_fracture"] is True
    assert prepared.valid["exam_id"].to_list() == ["E1"]
    assert prepared.quarantine["errors"].to_list() == [
        "treatment_start_date: is not a real date in the form DD/MM/YYYY (it reads as "
        "YYYY-MM-DD: leave out --date-format)"]


def test_a_day_first_date_without_the_option_is_not_guessed(tmp_path: Path) -> None:
    assert errors_of(tmp_path, last_fracture_date="13/02/2019",
                     prior_fragility_fracture="") == [
        "last_fracture_date: is not a real date in the form YYYY-MM-DD (it reads as "
        "DD/MM/YYYY: try --date-format DMY)"]


# --- the registry --------------------------------------------------------------------------


def test_the_columns_are_stored_in_exams(tmp_path: Path) -> None:
    prepared = prepared_rows(tmp_path, [
        make_row(exam_id="E1", treatment_drug="Denosumab", on_treatment="",
                 treatment_start_date="2021-07-01", last_fracture_date="2023-11-30",
                 prior_fragility_fracture=""),
        make_row(exam_id="E2", treatment_drug="drug_holiday", on_treatment=""),
        make_row(exam_id="E3"),
    ])
    chosen = resolve_ruleset("core-2025")
    with registry(tmp_path / "r.duckdb") as con:
        load_input(writer_for(con),
                   "run-1", chosen.label, prepared, decider_for(chosen), load_precision())
        stored = con.execute(
            "SELECT exam_id, treatment_drug, CAST(treatment_start_date AS VARCHAR),"
            " CAST(last_fracture_date AS VARCHAR), on_treatment, prior_fragility_fracture"
            " FROM exams ORDER BY exam_id").fetchall()
    assert stored == [
        ("E1", "denosumab", "2021-07-01", "2023-11-30", True, True),
        ("E2", "drug_holiday", None, None, False, False),
        ("E3", None, None, None, False, False),
    ]


def test_a_registry_from_before_the_columns_gains_them_as_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry migrated up to 015 (the last migration before the columns), holding an
    exam, is opened by this version: 016 adds the columns, null for the exam it holds,
    and a file with the columns then loads into it."""
    from pipelines.registry import store

    shipped = store._migrations()
    path = tmp_path / "old.duckdb"
    with monkeypatch.context() as patch:
        patch.setattr(store, "_migrations", lambda: [m for m in shipped if m[0] <= 15])
        with registry(path) as con:
            columns = {row[0] for row in con.execute("DESCRIBE exams").fetchall()}
            assert not columns & {"treatment_drug", "last_fracture_date"}
            con.execute("INSERT INTO exams (exam_id, patient_id, exam_date, age_years, sex,"
                        " on_treatment, source_format, file_sha256, source_row_number, run_id)"
                        " VALUES ('OLD', 'P-0', DATE '2020-01-01', 60, 'F', true,"
                        " 'canonical_csv', 'f', 1, 'run-0')")
    prepared = prepared_rows(tmp_path, [make_row(exam_id="NEW", treatment_drug="raloxifene",
                                                 on_treatment="")])
    chosen = resolve_ruleset("core-2025")
    with registry(path) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
            store.latest_migration(),)
        load_input(writer_for(con),
                   "run-1", chosen.label, prepared, decider_for(chosen), load_precision())
        stored = con.execute("SELECT exam_id, treatment_drug, treatment_start_date,"
                             " last_fracture_date, on_treatment FROM exams ORDER BY exam_id"
                             ).fetchall()
    assert stored == [("NEW", "raloxifene", None, None, True),
                      ("OLD", None, None, None, True)]
