"""Hostile and broken inputs: each reproduces a problem first, then holds the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from exam_rows import make_row, write_csv

from pipelines.ingest.prepare import prepare_input
from sources.base import ReadOptions
from sources.detect import discover

HEADER = b"exam_id,patient_id,exam_date,sex,age_years,scanner_model,femoral_neck_t\n"


def prepare(path: Path, options: ReadOptions | None = None):
    inputs, _ = discover([path])
    assert len(inputs) == 1
    return prepare_input(inputs[0], options)


def errors_of(prepared) -> dict[int, str]:
    assert prepared.error is None, prepared.error
    quarantine = prepared.quarantine
    return dict(zip(quarantine["row_number"], quarantine["errors"], strict=True))


# --- row shapes ---------------------------------------------------------------------------


def test_a_truncated_row_is_quarantined_also_when_a_quoted_cell_spans_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "multiline.csv"
    path.write_bytes(HEADER + b'E1,P1,2024-01-01,F,60,"Horizon\nA, second line",-1\n'
                     b"E2,P2,2024-01-01,F,60\n"
                     b'E3,P3,2024-01-01,F,60,"say ""hi""",-1.5\n')
    prepared = prepare(path)
    assert errors_of(prepared) == {2: "row: has 5 fields, the header has 7 (a truncated row);"
                                      " scores: no site has a T-score or a Z-score"}
    assert prepared.valid["exam_id"].to_list() == ["E1", "E3"]
    assert prepared.valid["scanner_model"].to_list() == ["Horizon\nA, second line",
                                                         'say "hi"']
    assert not [n for n in prepared.notes if "not checked" in n]


def test_an_unterminated_quote_names_the_line_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    path.write_bytes(HEADER + b"E1,P1,2024-01-01,F,60,A,-1\n"
                     b'E2,P2,2024-01-01,F,60,"Horizon,-1\n'
                     b"E3,P3,2024-01-01,F,60,A,-1\n"
                     b"E4,P4,2024-01-01,F,60,A,-1\n")
    prepared = prepare(path)
    assert prepared.error == (
        "not a well-formed CSV: line 3: unterminated quote (a quoted cell opened on this line"
        " is never closed)")


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("exam_date", "date_format", "problem"), [
    ("24-03-15", None, "exam_date: is not a real date in the form %Y-%m-%d"),
    ("15/03/24", "DMY", "exam_date: is not a real date in the form %d/%m/%Y"),
    ("03/15/24", "MDY", "exam_date: is not a real date in the form %m/%d/%Y"),
    ("15/03/2024", None, "exam_date: is not a real date in the form %Y-%m-%d"),
    ("0001-01-01", None, "exam_date: is before 1987-01-01, the earliest plausible date"),
    ("1986-12-31", None, "exam_date: is before 1987-01-01, the earliest plausible date"),
    ("1987-01-01", None, None),
    ("15/03/2024", "DMY", None),
])
def test_two_digit_years_and_implausibly_early_exam_dates_are_refused(
    tmp_path: Path, exam_date: str, date_format: str | None, problem: str | None
) -> None:
    path = write_csv(tmp_path / "d.csv", [make_row(exam_date=exam_date, birth_date="",
                                                   age_years="60")])
    errors = errors_of(prepare(path, ReadOptions(date_format=date_format)))
    assert errors.get(1) == problem


@pytest.mark.parametrize(("birth_date", "problem"), [
    ("1899-12-31", "birth_date: is before 1900-01-01, the earliest plausible date"),
    ("0001-01-01", "age_years: is above its plausible range (must be <= 120.0);"
                   " birth_date: is before 1900-01-01, the earliest plausible date"),
    ("1900-01-01", None),
])
def test_birth_dates_before_1900_are_refused(
    tmp_path: Path, birth_date: str, problem: str | None
) -> None:
    path = write_csv(tmp_path / "b.csv", [make_row(exam_date="1990-01-01",
                                                   birth_date=birth_date, age_years="")])
    errors = errors_of(prepare(path))
    assert errors.get(1) == problem


# --- folders ---------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_symlink_loop_is_visited_once_and_reported_once(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    write_csv(root / "a" / "exams.csv", [make_row()])
    write_csv(root / "a" / "b" / "more.csv", [make_row(exam_id="E2")])
    (root / "a" / "b" / "back").symlink_to(root / "a", target_is_directory=True)
    (root / "again").symlink_to(root / "a", target_is_directory=True)
    inputs, ignored = discover([root])
    files = sorted(i.path.relative_to(root).as_posix() for i in inputs if i.problem is None)
    assert files == ["a/b/more.csv", "a/exams.csv"]
    problems = {i.path.relative_to(root).as_posix(): i.problem for i in inputs if i.problem}
    assert problems == {
        "a/b/back": "symlink loop: links back to a folder that contains it (not followed)",
        "again": "a link to a folder already read through another path (not read twice)",
    }
    assert ignored == []
