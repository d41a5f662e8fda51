"""File-level problems fail one file, with a message naming the problem (never a value)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exam_rows import make_row, write_csv

from pipelines.ingest.prepare import prepare_input
from sources.detect import discover


def prepare(path: Path):
    inputs, _ = discover([path])
    assert len(inputs) == 1
    return prepare_input(inputs[0])


def test_good_file_prepares(tmp_path: Path) -> None:
    prepared = prepare(write_csv(tmp_path / "good.csv", [make_row()]))
    assert prepared.error is None
    assert prepared.rows_read == 1
    assert prepared.valid is not None and prepared.valid.height == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file: no header and no rows"),
        (b"exam_id,patient_id,exam_date,sex,age_years\n", "empty file: a header but no data rows"),
        (b"exam_id,patient_id,exam_date,age_years\nE1,P1,2024-01-01,60\n",
         "required column missing: sex"),
        (b"exam_id,patient_id,exam_date,sex\nE1,P1,2024-01-01,F\n",
         "required column missing: birth_date or age_years"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV: the file holds binary data"),
        (b"exam_id,patient_id,exam_date,sex,age_years\nE1,P1,2024-01-01,F,60,extra,more\n",
         "not a well-formed CSV: line 2 has 7 fields, the header has 5"),
        (b"exam_id,Exam_ID,patient_id,exam_date,sex,age_years\n1,1,P,2024-01-01,F,6\n",
         "header names a column twice: exam_id"),
    ],
)
def test_file_level_failures(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    prepared = prepare(path)
    assert prepared.error == message
    assert prepared.sha256 is not None  # recorded in source_files by its content hash


def test_undecodable_bytes_fail_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    # 0x81 and 0x8d are neither UTF-8 nor Windows-1252 text; Latin-1 would make them controls
    path.write_bytes(b"exam_id,patient_id,exam_date,sex,age_years\nE1,P\x81\x8d,2024-01-01,F,60\n")
    prepared = prepare(path)
    assert prepared.error is not None and prepared.error.startswith("undecodable bytes")
    assert "\x81" not in prepared.error


def test_windows_1252_bytes_are_decoded_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_bytes(b"exam_id,patient_id,exam_date,sex,age_years,femoral_neck_t\n"
                     b"E1,P\xe9,2024-01-01,F,60,-1\n")
    prepared = prepare(path)
    assert prepared.error is None
    assert prepared.valid is not None and prepared.valid["patient_id"].to_list() == ["P\u00e9"]
    assert prepared.notes == ["decoded as Windows-1252 (not valid UTF-8)"]


def test_unknown_input_says_which_formats_were_tried(tmp_path: Path) -> None:
    path = tmp_path / "scan.xlsx"
    path.write_bytes(b"PK\x03\x04")
    prepared = prepare(path)
    assert prepared.error is not None
    assert prepared.error.startswith("unrecognised input; tried canonical_csv:")


def test_folders_are_expanded_in_sorted_order_and_docs_ignored(tmp_path: Path) -> None:
    write_csv(tmp_path / "b.csv", [make_row(exam_id="B")])
    write_csv(tmp_path / "a.csv", [make_row(exam_id="A")])
    (tmp_path / "README.md").write_text("about these files")
    inputs, ignored = discover([tmp_path])
    assert [i.path.name for i in inputs] == ["a.csv", "b.csv"]
    assert [p.name for p in ignored] == ["README.md"]


HEADER = b"exam_id,patient_id,exam_date,sex,age_years,femoral_neck_t,on_treatment\n"


def test_trailing_line_breaks_are_not_rows(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(HEADER.replace(b"\n", b"\r\n") + b"E1,P1,2024-01-01,F,60,-1,no\r\n\r\n\r\n")
    prepared = prepare(path)
    assert (prepared.error, prepared.rows_read, prepared.notes) == (None, 1, [])
    assert prepared.valid is not None and prepared.valid["on_treatment"].to_list() == [False]


def test_blank_lines_inside_a_file_are_counted_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(HEADER + b"E1,P1,2024-01-01,F,60,-1,no\n\n,,,,,,\n   \n"
                     b"E2,P2,2024-01-01,F,60,-1,\n")
    prepared = prepare(path)
    assert prepared.rows_read == 2 and prepared.quarantine is not None
    assert prepared.quarantine.height == 0
    assert prepared.notes == ["3 blank rows ignored"]
    assert prepared.valid is not None and prepared.valid["_row_number"].to_list() == [1, 5]


@pytest.mark.parametrize(
    ("text", "column", "valid"),
    [
        pytest.param(b"E1,P1,2024-01-01,F,60,-1,no\nE2,P2,2024-01-01,F,60,-1\n",
                     "exam_id", "E1", id="short"),
        # read naively, E2's quoted comma would make the 7 fields of a whole row
        pytest.param(b'E1,"P,1",2024-01-01,F,60,-1,no\nE2,"P,2",2024-01-01,F,60,-1\n',
                     "patient_id", "P,1", id="quoted-delimiters-do-not-count"),
    ],
)
def test_a_truncated_row_is_quarantined_not_padded(
    tmp_path: Path, text: bytes, column: str, valid: str
) -> None:
    """polars pads a short row with blanks: it must not load as an exam with missing data.
    A delimiter inside quotes is part of its cell, not a field boundary."""
    path = tmp_path / "short.csv"
    path.write_bytes(HEADER + text)
    prepared = prepare(path)
    assert prepared.valid is not None and prepared.valid[column].to_list() == [valid]
    assert prepared.quarantine is not None
    assert prepared.quarantine.select("row_number", "errors").rows() == [
        (2, "row: has 6 fields, the header has 7 (a truncated row)")
    ]


def test_an_empty_last_cell_is_not_a_truncated_row(tmp_path: Path) -> None:
    path = tmp_path / "tab.tsv"
    path.write_bytes(HEADER.replace(b",", b"\t") + b"E1\tP1\t2024-01-01\tF\t60\t-1\t")
    prepared = prepare(path)
    assert prepared.quarantine is not None and prepared.quarantine.height == 0
    assert prepared.valid is not None and prepared.valid["on_treatment"].to_list() == [None]


