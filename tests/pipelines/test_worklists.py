"""`dxa export KIND`: each list equals its view, one row per patient, in CSV, Excel, Parquet."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sample_registry import shared_sample_copy
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.worklists import WORKLISTS, WorklistError, export_worklist, rule_wording
from transforms.rules.catalog import RULES_BY_ID

runner = CliRunner()
RULESET = "core-2025@3"
PAST = dt.date(2023, 6, 30)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:  # noqa: ANN001
    return shared_sample_copy(tmp_path_factory)


def _view_rows(copy: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(copy), read_only=True) as con:
        return con.sql(sql).pl()


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("patient_id", "exam_id").sort("patient_id", "exam_id")


@pytest.mark.parametrize("kind", [k for k in WORKLISTS if k != "quarantine"])
def test_each_list_equals_its_view_one_row_per_patient(
    copy: Path, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / f"{kind}.parquet"
    n = export_worklist(kind, copy, out)
    rows = pl.read_parquet(out)
    view = _view_rows(copy, f"SELECT * FROM {WORKLISTS[kind].view} WHERE ruleset = '{RULESET}'")
    assert n == rows.height == view.height > 0
    assert rows["patient_id"].is_unique().all()
    assert rows["ruleset"].unique().to_list() == [RULESET]
    assert_frame_equal(_keys(rows), _keys(view))
    by_exam = view.join(rows, on="exam_id", suffix="_list")
    assert (by_exam["exam_date"] == by_exam["exam_date_list"]).all()
    assert (by_exam["reasons"].list.join("; ") == by_exam["reasons_list"]).all()


@pytest.mark.parametrize("kind", [k for k in WORKLISTS if k != "quarantine"])
def test_as_of_a_past_date_equals_the_macro(copy: Path, tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.csv"
    export_worklist(kind, copy, out, as_of=PAST.isoformat())
    rows = pl.read_csv(out, infer_schema=False)
    source = WORKLISTS[kind].source.replace("$as_of", f"DATE '{PAST}'")
    macro = _view_rows(copy, f"SELECT * FROM {source} WHERE ruleset = '{RULESET}'")
    assert rows.height == macro.height > 0
    assert_frame_equal(_keys(rows), _keys(macro))
    assert (rows["exam_date"].str.to_date() <= PAST).all()


def test_overdue_days_are_counted_from_the_as_of_date(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "overdue.parquet"
    export_worklist("overdue", copy, out, as_of=PAST.isoformat())
    rows = pl.read_parquet(out)
    expected = (pl.lit(PAST) - pl.col("next_dxa_due")).dt.total_days()
    assert rows.select((pl.col("days_overdue") == expected).all()).item()
    assert (rows["next_dxa_due"] < PAST).all()
    # patients on denosumab first (TC-DENOSUMAB), then the most overdue first
    assert rows.select("denosumab", "days_overdue").rows() == sorted(
        rows.select("denosumab", "days_overdue").rows(), reverse=True)
    assert 0 < rows["denosumab"].sum() < rows.height


def test_quarantine_list_holds_every_quarantined_row(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "quarantine.csv"
    n = export_worklist("quarantine", copy, out)
    rows = pl.read_csv(out, infer_schema=False)
    table = _view_rows(copy, "SELECT file_sha256, row_number, errors FROM quarantine")
    assert n == rows.height == table.height > 0
    assert_frame_equal(
        rows.select("file_sha256", pl.col("row_number").cast(pl.Int64), "errors")
        .sort("file_sha256", "row_number"),
        table.sort("file_sha256", "row_number"),
    )
    assert rows["path"].null_count() == 0


def test_rules_wording_explains_the_list(copy: Path, tmp_path: Path) -> None:
    """Every treatment line, very-high-risk line and FRAX adjustment among a treatment
    candidate's reasons comes with its rule's wording; the overdue list explains
    MON-OVERDUE and the rule that set the due date."""
    recorded = dict(_view_rows(copy, "SELECT rule_id, wording FROM rules"
                                     f" WHERE ruleset = '{RULESET}'").iter_rows())
    assert recorded, "the registry's rules table holds the ruleset's wording"
    out = tmp_path / "candidates.parquet"
    export_worklist("treatment-candidates", copy, out)
    rows = pl.read_parquet(out)
    for reasons, wording in rows.select("reasons", "rules_wording").iter_rows():
        shown = [r for r in reasons.split("; ")
                 if r.startswith(("TX-", "BHOF-", "OC-", "VHR-", "FRAX-ADJ-"))]
        assert wording == " | ".join(f"{r}: {recorded[r]}" for r in shown)
    export_worklist("overdue", copy, out)
    overdue = pl.read_parquet(out)
    assert overdue["rules_wording"].str.starts_with(
        f"MON-OVERDUE: {recorded['MON-OVERDUE']}").all()
    # the MON line(s) that set the date (version 2: also glucocorticoids, Z-basis fractures)
    assert overdue["rules_wording"].str.contains(
        "MON-TREATED: |MON-UNTREATED: |MON-GLUCOCORTICOID: |MON-Z-FRACTURE: ").all()


def test_xlsx_opens_with_the_same_rows_typed_frozen_and_described(
    copy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "overdue.xlsx"
    n = export_worklist("overdue", copy, out, as_of=PAST.isoformat())
    expected = pl.read_parquet(_parquet_of(copy, tmp_path, "overdue"))
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["overdue", "about"]
    sheet = book["overdue"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header == expected.columns
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == n == expected.height
    read = pl.DataFrame(values, schema=header, orient="row")
    assert read["patient_id"].to_list() == expected["patient_id"].to_list()
    assert read["exam_id"].to_list() == expected["exam_id"].to_list()
    assert [d.date() for d in read["next_dxa_due"]] == expected["next_dxa_due"].to_list()
    assert read["days_overdue"].to_list() == expected["days_overdue"].to_list()
    first = sheet[2]
    assert first[header.index("exam_date")].is_date
    assert first[header.index("days_overdue")].data_type == "n"
    assert first[header.index("on_treatment")].data_type == "b"
    about = dict(book["about"].iter_rows(min_row=2, values_only=True))
    assert about["as of"] == PAST.isoformat()
    assert about["ruleset"] == RULESET
    assert about["rows"] == str(n)
    assert "authorised staff" in about["contains patient identifiers"]
    assert dt.datetime.fromisoformat(about["generated at"])


def _parquet_of(copy: Path, tmp_path: Path, kind: str) -> Path:
    out = tmp_path / f"{kind}-check.parquet"
    export_worklist(kind, copy, out, as_of=PAST.isoformat())
    return out


def test_parquet_carries_the_description(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "vfa.parquet"
    export_worklist("vfa", copy, out)
    meta = pl.read_parquet_metadata(out)
    assert meta["list"].startswith("Vertebral fracture assessment")
    assert meta["same rows as"].startswith("the view v_vfa_candidates")


def test_ruleset_by_bare_id_and_unknown_ruleset(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    export_worklist("workup", copy, out, ruleset="core-2025")
    assert set(pl.read_csv(out)["ruleset"]) == {RULESET}
    with pytest.raises(WorklistError, match="holds no assessments under ruleset 'bhof-2022'"):
        export_worklist("workup", copy, out, ruleset="bhof-2022")


@pytest.mark.parametrize(("args", "message"), [
    (["nonsense", "--output", "x.csv"], "unknown list 'nonsense'"),
    (["overdue", "--output", "x.txt"], "must end in .csv, .xlsx, .parquet"),
    (["overdue", "--output", "x.csv", "--as-of", "2026-13-01"], "--as-of must be a date"),
    (["research", "--output", "x.parquet"], "need --pseudonym-key"),
])
def test_cli_errors_are_one_line(copy: Path, tmp_path: Path, args: list[str],
                                 message: str) -> None:
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    result = runner.invoke(app, ["export", *args[:1], "--db", str(copy), *args[1:]])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_cli_writes_the_list_and_names_only_counts(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "loss.xlsx"
    result = runner.invoke(app, ["export", "significant-loss", "--db", str(copy),
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    listed = tmp_path / "loss.parquet"
    export_worklist("significant-loss", copy, listed)
    rows = pl.read_parquet(listed)
    assert "rows to" in result.output and "authorised staff" in result.output
    assert not any(pid in result.output for pid in rows["patient_id"])
    assert out.exists()


def test_db_defaults_to_the_reporting_copy_in_the_current_folder(
    copy: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(copy.parent)
    out = tmp_path / "overdue.xlsx"
    result = runner.invoke(app, ["export", "overdue", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(out).sheetnames == ["overdue", "about"]


def test_wording_from_the_rules_table_else_the_catalog() -> None:
    """The registry's own wording wins; a rule it does not record (or a registry made
    before the rules table) takes the catalog's."""
    con = duckdb.connect()
    con.execute("CREATE TABLE assessments AS SELECT 'core-2025@3' AS ruleset")
    catalog = rule_wording(con)
    assert catalog.height == len(RULES_BY_ID)
    assert dict(catalog.select("rule_id", "wording").iter_rows()) == {
        r: rule.wording for r, rule in RULES_BY_ID.items()}
    con.execute("CREATE TABLE rules AS SELECT 'TX-NORMAL' AS rule_id,"
                " 'core-2025@3' AS ruleset, 'as signed off' AS wording")
    both = dict(rule_wording(con).select("rule_id", "wording").iter_rows())
    assert both["TX-NORMAL"] == "as signed off"
    assert both["MON-OVERDUE"] == RULES_BY_ID["MON-OVERDUE"].wording
    assert len(both) == len(RULES_BY_ID)


def test_a_list_longer_than_an_excel_sheet_asks_for_csv(
    copy: Path, tmp_path: Path, monkeypatch
) -> None:
    import pipelines.readers.worklists as worklists

    monkeypatch.setattr(worklists, "EXCEL_MAX_ROWS", 3)
    with pytest.raises(WorklistError, match="more than an Excel sheet holds"):
        export_worklist("overdue", copy, tmp_path / "big.xlsx")
    assert not list(tmp_path.iterdir())


def test_significant_losses_name_their_comparison(copy: Path) -> None:
    """bmd_changes holds a previous and a baseline row per site: each loss says which, in
    the words of the loss flag's detail (previous first, one LSC per site, "region not
    verified" after a comparison whose hip side was not recorded)."""
    view = _view_rows(copy, "SELECT losses FROM v_significant_loss")
    sites = [part for cell in view["losses"] for part in cell.split("; ")]
    assert sites
    unverified = r"( \(region not verified\))?"
    pattern = (rf"^[a-z_]+ -\d+\.\d% vs (previous|baseline){unverified}"
               rf"(, -\d+\.\d% vs baseline{unverified})? \(LSC \d+\.\d%\)$")
    assert pl.Series(sites).str.contains(pattern).all(), sites[:5]
    assert any("vs previous, " in s for s in sites)
    assert any(" vs baseline" in s and "vs previous" not in s for s in sites)
    assert _view_rows(copy, "SELECT DISTINCT ruleset FROM v_significant_loss").height == 1


def test_without_ruleset_the_list_is_the_primary_rulesets(copy: Path, tmp_path: Path) -> None:
    """A later what-if run under another ruleset does not switch the lists: they default
    to the registry's primary ruleset, as the readers' views do."""
    db = tmp_path / "whatif.duckdb"
    shutil.copyfile(copy, db)
    db.chmod(0o600)
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT OR REPLACE INTO registry_settings VALUES"
                    " ('primary_ruleset', ?, current_timestamp)", [RULESET])
        con.execute("INSERT INTO assessments SELECT * REPLACE ('bhof-2022@3' AS ruleset)"
                    " FROM assessments WHERE ruleset = ?", [RULESET])
        con.execute("INSERT INTO runs (run_id, started_at, finished_at, status, ruleset)"
                    " VALUES ('later-whatif', now() + INTERVAL 1 DAY, now() + INTERVAL 1 DAY,"
                    " 'completed', 'bhof-2022@3')")
    out = tmp_path / "workup.csv"
    export_worklist("workup", db, out)
    assert set(pl.read_csv(out)["ruleset"]) == {RULESET}
    export_worklist("workup", db, out, ruleset="bhof-2022")
    assert set(pl.read_csv(out)["ruleset"]) == {"bhof-2022@3"}
