"""Hostile and broken inputs: each reproduces a problem first, then holds the fix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyreadstat
import pytest
from exam_rows import make_row, write_csv
from nhanes_files import participant, shared_nhanes, write_nhanes
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.ingest.prepare import prepare_input
from sources import nhanes
from sources.base import ReadOptions
from sources.detect import DANGLING_LINK, LINK_LOOP, discover
from sources.xport import observations

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
    ("24-03-15", None, "exam_date: is not a real date in the form YYYY-MM-DD"),
    ("15/03/24", "DMY", "exam_date: is not a real date in the form DD/MM/YYYY"),
    ("03/15/24", "MDY", "exam_date: is not a real date in the form MM/DD/YYYY"),
    ("15/03/2024", None, "exam_date: is not a real date in the form YYYY-MM-DD"
                         " (it reads as DD/MM/YYYY: try --date-format DMY)"),
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


#: The treatment_drug vocabulary as its UNKNOWN_CODE reason names it.
_DRUGS = ("alendronate, risedronate, ibandronate, zoledronate, denosumab, teriparatide, "
          "abaloparatide, romosozumab, raloxifene, hormone_therapy, other, drug_holiday")


@pytest.mark.parametrize(("cells", "problem"), [
    ({"treatment_drug": "=HYPERLINK(\"http://x\",\"denosumab\")"},
     f"treatment_drug: holds a code that is not one of {_DRUGS}"),
    ({"treatment_drug": "@SUM(1+1)*cmd|' /C calc'!A0"},
     f"treatment_drug: holds a code that is not one of {_DRUGS}"),
    ({"treatment_drug": "+denosumab"},
     f"treatment_drug: holds a code that is not one of {_DRUGS}"),
    ({"treatment_drug": "denosumab" * 1200},
     f"treatment_drug: holds a code that is not one of {_DRUGS}"),
    ({"treatment_start_date": "2019-01-01" * 1000},
     "treatment_start_date: is not a real date in the form YYYY-MM-DD"),
    ({"last_fracture_date": "=TODAY()" + "9" * 10_000},
     "last_fracture_date: is not a real date in the form YYYY-MM-DD"),
])
def test_hostile_treatment_course_cells_are_quarantined_without_quoting_them(
    tmp_path: Path, cells: dict[str, str], problem: str
) -> None:
    path = write_csv(tmp_path / "course.csv", [make_row(exam_id="E1", **cells),
                                                make_row(exam_id="E2")])
    prepared = prepare(path)
    assert errors_of(prepared) == {1: problem}
    assert prepared.valid["exam_id"].to_list() == ["E2"]
    assert not any(text in problem for text in cells.values())  # never quoted


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


# --- NHANES folders: each damaged folder fails alone, named ---------------------------------


def _rewrite(path: Path, frame: pl.DataFrame, table: str) -> None:
    pyreadstat.write_xport(frame, str(path), file_format_version=5, table_name=table)


def _read(path: Path) -> pl.DataFrame:
    return pyreadstat.read_xport(str(path), output_format="polars")[0]


def _with_text_age(demo: pl.DataFrame, seqn: int) -> pl.DataFrame:
    """RIDAGEYR stored as text (as a spreadsheet round trip leaves it), one cell a word."""
    return demo.with_columns(
        pl.when(pl.col("SEQN") == seqn).then(pl.lit("unknown"))
        .otherwise(pl.col("RIDAGEYR").cast(pl.Int64).cast(pl.String)).alias("RIDAGEYR"))


def _cut(path: Path, size: int) -> None:
    with path.open("r+b") as handle:
        handle.truncate(size)


def _observations_start(path: Path) -> int:
    bounds = observations(path.read_bytes())
    assert bounds is not None
    return bounds[0]


def test_a_text_variable_fails_the_nhanes_folder_naming_file_and_variable(
    tmp_path: Path,
) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(1), participant(2)])
    demo = folder / "P_DEMO.XPT"
    _rewrite(demo, _with_text_age(_read(demo), 2), "DEMO")
    prepared = prepare(folder)
    assert prepared.error == "P_DEMO.XPT: variable RIDAGEYR holds text, not numbers"
    assert prepared.rows_read == 0
    # the other side: text in a variable the reader does not use is no problem
    write_nhanes(folder, [participant(1), participant(2)])
    _rewrite(demo, _read(demo).with_columns(pl.lit("note").alias("REMARK")), "DEMO")
    prepared = prepare(folder)
    assert (prepared.error, prepared.rows_read) == (None, 2)


@pytest.mark.parametrize(("style", "lower", "remove", "message"), [
    ("P", False, "P_DXXFEM.XPT", "P_DEMO.XPT: no DXXFEM file beside it (expected P_DXXFEM.XPT)"),
    ("P", False, "P_DEMO.XPT", "P_DXXFEM.XPT: no DEMO file beside it (expected P_DEMO.XPT)"),
    ("J", False, "DXXFEM_J.XPT", "DEMO_J.XPT: no DXXFEM file beside it (expected DXXFEM_J.XPT)"),
    ("J", True, "dxxfem_j.xpt", "demo_j.xpt: no DXXFEM file beside it (expected dxxfem_j.xpt)"),
])
def test_an_nhanes_folder_missing_demo_or_femur_is_one_input_naming_the_file(
    tmp_path: Path, style: str, lower: bool, remove: str, message: str
) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(1)], style=style)
    if lower:
        for child in folder.iterdir():
            child.rename(child.with_name(child.name.lower()))
    (folder / remove).unlink()
    inputs, ignored = discover([tmp_path])  # auto-detected: one input, not one per file
    assert [(i.path, i.source_format) for i in inputs] == [(folder, "nhanes")]
    assert ignored == []
    assert prepare_input(inputs[0]).error == message


def test_an_nhanes_folder_without_demo_or_femur_is_not_taken_for_one(tmp_path: Path) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(1)])
    (folder / "P_DEMO.XPT").unlink()
    (folder / "P_DXXFEM.XPT").unlink()
    assert nhanes.sniff(folder) == "folder holds no NHANES DEMO or DXXFEM .XPT file"
    assert nhanes.sniff(folder.parent) == "folder holds no NHANES DEMO or DXXFEM .XPT file"


def test_a_truncated_transport_file_is_refused_on_both_sides_of_the_cut(tmp_path: Path) -> None:
    # five participants: 5 rows x 40 bytes (5 variables) = 200 bytes, padded to 240
    folder = write_nhanes(tmp_path / "f", [participant(n) for n in range(1, 6)])
    femur = folder / "P_DXXFEM.XPT"
    first, whole = _observations_start(femur), femur.stat().st_size
    assert (whole - first, femur.read_bytes()[first + 200:]) == (240, b" " * 40)
    assert (prepare(folder).error, prepare(folder).rows_read) == (None, 5)  # padding: fine
    refused = ("P_DXXFEM.XPT: the file is truncated (it ends inside an observation record, "
               "after {} whole observations)")
    original = femur.read_bytes()
    for size, rows in ((whole - 1, 5), (first + 200, 5), (first + 180, 4), (first + 81, 2)):
        femur.write_bytes(original[:size])
        prepared = prepare(folder)
        assert (prepared.error, prepared.rows_read) == (refused.format(rows), 0), size
    # a cut between two observations on a record boundary leaves a well-formed file:
    # version 5 headers hold no row count, so it cannot be seen (docs/nhanes.md)
    femur.write_bytes(original[:first + 160])
    assert nhanes.read_xpt(femur, "DXXFEM").height == 4


def test_negative_and_missing_survey_weights_load_with_a_note(tmp_path: Path) -> None:
    folder = write_nhanes(tmp_path / "f", [participant(1), participant(2, weight=-5.0),
                                           participant(3, weight=-1.0), participant(4)])
    demo = folder / "P_DEMO.XPT"
    _rewrite(demo, _read(demo).with_columns(
        pl.when(pl.col("SEQN") == 4).then(None).otherwise(pl.col("WTMECPRP"))
        .alias("WTMECPRP")), "DEMO")
    prepared = prepare(folder)
    assert (prepared.error, prepared.rows_read, prepared.valid.height) == (None, 4, 4)
    refuses = (" (loaded; `dxa prevalence --weights survey` refuses a weighted estimate "
               "that counts them)")
    assert [n for n in prepared.notes if "exam weight" in n] == [
        "exams with a negative MEC exam weight (WTMECPRP): 2" + refuses,
        "exams with no MEC exam weight (WTMECPRP): 1" + refuses,
    ]


@pytest.mark.skipif(not (shared_nhanes() / "P_DXXFEM.XPT").is_file(),
                    reason="the shared NHANES files (../shared/data/nhanes) are not here")
@pytest.mark.usefixtures("prefect_harness")
def test_damaged_copies_of_the_real_nhanes_files_fail_alone_beside_the_intact_folder(
    tmp_path: Path,
) -> None:
    def copy(name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for source in shared_nhanes().glob("*.XPT"):
            shutil.copyfile(source, folder / source.name)
        return folder

    text, cut, lone = copy("text"), copy("cut"), copy("lone")
    demo = text / "P_DEMO.XPT"
    _rewrite(demo, _with_text_age(_read(demo), 109264), "DEMO")
    femur = cut / "P_DXXFEM.XPT"
    start = _observations_start(femur)  # 160-byte observations (20 variables)
    _cut(femur, start + 1000 * 160 + 80)  # on a record boundary, inside observation 1001
    (lone / "P_DXXFEM.XPT").unlink()
    db = tmp_path / "r.duckdb"
    result = CliRunner().invoke(app, ["run", str(text), str(cut), str(lone),
                                      str(shared_nhanes()), "--format", "nhanes",
                                      "--db", str(db), "--json"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "unknown" not in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        files = con.execute("SELECT path, status, error, rows_loaded FROM source_files "
                            "ORDER BY path").fetchall()
        counts = con.execute("SELECT (SELECT count(*) FROM exams), "
                             "(SELECT count(*) FROM survey_design)").fetchone()
    assert sorted(files) == sorted([
        (str(cut), "failed", "P_DXXFEM.XPT: the file is truncated (it ends inside an "
                             "observation record, after 1000 whole observations)", 0),
        (str(lone), "failed", "P_DEMO.XPT: no DXXFEM file beside it (expected "
                              "P_DXXFEM.XPT)", 0),
        (str(text), "failed", "P_DEMO.XPT: variable RIDAGEYR holds text, not numbers", 0),
        (str(shared_nhanes()), "loaded", None, 3735),
    ])
    assert counts == (3735, 3735)


def _broken_links(folder: Path) -> None:
    """A link to itself, two links to each other, a link to a removed file."""
    (folder / "self.csv").symlink_to(folder / "self.csv")
    (folder / "a.csv").symlink_to(folder / "b.csv")
    (folder / "b.csv").symlink_to(folder / "a.csv")
    (folder / "gone.csv").symlink_to(folder / "removed.csv")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_link_to_itself_or_to_nothing_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "exams.csv", [make_row()])
    _broken_links(folder)
    inputs, ignored = discover([folder])
    assert {i.path.name: i.problem for i in inputs} == {
        "a.csv": LINK_LOOP, "b.csv": LINK_LOOP, "self.csv": LINK_LOOP,
        "gone.csv": DANGLING_LINK, "exams.csv": None}
    assert ignored == []
    loop = next(i for i in inputs if i.path.name == "self.csv")
    assert prepare_input(loop).error == LINK_LOOP  # the input fails with it, no traceback
    given, _ = discover([folder / "self.csv"])  # named on the command line
    assert [i.problem for i in given] == [LINK_LOOP]
    assert LINK_LOOP.startswith("symlink loop: ")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_dxa_run_on_a_link_to_itself_names_the_loop(tmp_path: Path) -> None:
    link = tmp_path / "self.csv"
    link.symlink_to(link)
    db = tmp_path / "r.duckdb"
    result = CliRunner().invoke(app, ["run", str(link), "--db", str(db)])
    assert result.exit_code == 1
    assert " ".join(result.output.split()) == f"dxa: error: {link}: {LINK_LOOP}"
    assert not db.exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
@pytest.mark.usefixtures("prefect_harness")
def test_dxa_run_on_a_folder_with_broken_links_loads_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "exams.csv", [make_row()])
    _broken_links(folder)
    result = CliRunner().invoke(app, ["run", str(folder), "--db", str(tmp_path / "r.duckdb")])
    assert result.exit_code == 2, result.output  # the run completed, inputs failed
    text = " ".join(result.output.split())
    assert f"failed: {folder / 'self.csv'}: {LINK_LOOP}" in text
    assert f"failed: {folder / 'gone.csv'}: {DANGLING_LINK}" in text
    assert "Traceback" not in result.output and "not a file" not in text
