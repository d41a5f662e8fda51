"""The registry flow end to end through Prefect (one test harness for the session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from exam_rows import SAMPLE_DATA, make_row, write_csv

from pipelines.flows.nightly import registry_flow
from pipelines.flows.outcome_state import summary_of

DATA_TABLES = ("exams", "measurements", "assessments", "flags", "quarantine", "source_files")
CONTRACT_TABLES = ("runs", "source_files", "exams", "measurements", "assessments", "flags",
                   "quarantine")

pytestmark = pytest.mark.usefixtures("prefect_harness")


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in
                (*DATA_TABLES, "runs", "run_files")}


def canonical_sample(tmp_path: Path) -> Path:
    """The shipped canonical sample CSVs (vendor folders are tested elsewhere)."""
    folder = tmp_path / "sample"
    folder.mkdir()
    for csv_file in sorted(SAMPLE_DATA.glob("*.csv")):
        shutil.copy(csv_file, folder / csv_file.name)
    assert any(folder.iterdir()), "sample_data/ has no canonical CSV"
    return folder


@pytest.fixture(scope="module")
def sample_registry(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> Path:
    tmp = tmp_path_factory.mktemp("sample")
    db = tmp / "registry.duckdb"
    summary = registry_flow(paths=[str(canonical_sample(tmp))], db=str(db))
    assert summary.status == "completed"
    return db


def test_every_contract_table_is_filled(sample_registry: Path) -> None:
    found = counts(sample_registry)
    for table in CONTRACT_TABLES:
        assert found[table] > 0, table


def test_every_row_is_accounted_for_per_file_and_run(sample_registry: Path) -> None:
    with duckdb.connect(str(sample_registry), read_only=True) as con:
        unbalanced = con.execute(
            "SELECT path FROM source_files WHERE status = 'loaded' AND"
            " rows_read <> rows_loaded + rows_quarantined + rows_duplicate").fetchall()
        assert unbalanced == []
        run = con.execute(
            "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate FROM runs").fetchone()
        assert run[0] == run[1] + run[2] + run[3]
        loaded, quarantined = con.execute(
            "SELECT (SELECT count(*) FROM exams), (SELECT count(*) FROM quarantine)").fetchone()
        assert (loaded, quarantined) == (run[1], run[2])
        # the sample carries about 1% deliberately bad rows, each with its reasons
        assert 0.005 * run[0] <= quarantined <= 0.03 * run[0]
        assert con.execute(
            "SELECT count(*) FROM quarantine WHERE errors = '' OR raw IS NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(DISTINCT ruleset) FROM assessments").fetchone()[0] == 1
        unassessed = con.execute(
            "SELECT count(*) FROM exams e ANTI JOIN assessments a USING (exam_id)").fetchone()
        assert unassessed[0] == 0


def test_reload_is_idempotent_and_another_ruleset_adds_assessments(tmp_path: Path) -> None:
    sample = canonical_sample(tmp_path)
    db = tmp_path / "r.duckdb"
    registry_flow(paths=[str(sample)], db=str(db))
    first = counts(db)
    again = registry_flow(paths=[str(sample)], db=str(db))
    second = counts(db)
    assert {t: second[t] for t in DATA_TABLES} == {t: first[t] for t in DATA_TABLES}
    assert second["runs"] == first["runs"] + 1
    assert {f.status for f in again.files} == {"skipped"}

    bhof = registry_flow(paths=[str(sample)], db=str(db), ruleset="bhof-2022")
    third = counts(db)
    assert {f.status for f in bhof.files} == {"assessed"}
    assert third["exams"] == first["exams"]
    assert third["assessments"] == 2 * first["assessments"]
    with duckdb.connect(str(db), read_only=True) as con:
        labels = {r[0] for r in con.execute("SELECT DISTINCT ruleset FROM assessments").fetchall()}
    assert labels == {"core-2025@3", "bhof-2022@3"}


def test_a_failing_file_beside_a_good_one(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "good.csv", [make_row(exam_id="G1"), make_row(exam_id="G2", sex="")])
    (folder / "broken.csv").write_text("exam_id,patient_id\nX,Y\n")
    db = tmp_path / "r.duckdb"
    state = registry_flow(paths=[str(folder)], db=str(db), return_state=True)
    assert state.is_failed()  # in Prefect, so that an automation alerts
    assert state.message.startswith("1 of 2 inputs failed: broken.csv (run ")
    summary = summary_of(state)
    assert summary.status == "completed"  # in the registry: what loaded is kept
    by_name = {Path(f.path).name: f for f in summary.files}
    assert by_name["broken.csv"].status == "failed"
    assert by_name["broken.csv"].error == (
        "required column missing: exam_date, sex, birth_date or age_years")
    assert (by_name["good.csv"].rows_loaded, by_name["good.csv"].rows_quarantined) == (1, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT path, status, error FROM source_files ORDER BY path").fetchall()
    assert [(Path(p).name, s) for p, s, _ in rows] == [("broken.csv", "failed"),
                                                      ("good.csv", "loaded")]


def test_an_exam_already_in_the_registry_is_quarantined_not_replaced(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    first = write_csv(tmp_path / "first.csv", [make_row(exam_id="E1")])
    resent = write_csv(tmp_path / "second.csv",
                       [make_row(exam_id="E1", femoral_neck_t="-2.6"), make_row(exam_id="E2")])
    registry_flow(paths=[str(first)], db=str(db))
    summary = registry_flow(paths=[str(resent)], db=str(db))
    outcome = summary.files[0]
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (2, 1, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT femoral_neck_t FROM exams WHERE exam_id = 'E1'"
                           ).fetchone()[0] == -2.1
        errors, row_number, raw = con.execute(
            "SELECT errors, row_number, raw FROM quarantine").fetchone()
    assert errors == "exam_id: already in the registry from another input, with other content"
    # the raw row as read: the prepared input held no text, the file was read again
    assert row_number == 1
    assert json.loads(raw)["exam_id"] == "E1" and json.loads(raw)["femoral_neck_t"] == "-2.6"


def test_a_prepared_input_holds_no_text_and_reads_its_file_again(tmp_path: Path) -> None:
    from pipelines.ingest.prepare import prepare_input
    from schemas.errors import FileProblem
    from sources.detect import discover

    data = write_csv(tmp_path / "in.csv", [make_row(exam_id="E1"), make_row(exam_id="E2")])
    inputs, _ = discover([data], "auto")
    prepared = prepare_input(inputs[0])
    assert prepared.split is not None and prepared.split.cells is None
    batch = next(prepared.batches())
    raw = batch.raw_of(pl.Series([2]))
    assert raw.get_column("row_number").to_list() == [2]
    assert json.loads(raw.item(0, "raw"))["exam_id"] == "E2"
    assert batch.raw_of(pl.Series([], dtype=pl.Int64)).height == 0  # nothing read then
    data.write_text(data.read_text() + "\n")  # changed between prepare and load
    with pytest.raises(FileProblem, match="changed while it was being loaded"):
        batch.raw_of(pl.Series([2]))


def test_run_summary_artifact_holds_no_patient_identifiers(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from pipelines.readers.summary import to_markdown

    data = write_csv(tmp_path / "in.csv", [
        make_row(exam_id="SECRET-EXAM-1", patient_id="SECRET-PATIENT-1"),
        make_row(exam_id="SECRET-EXAM-2", patient_id="SECRET-PATIENT-2", sex="Q"),
    ])
    summary = registry_flow(paths=[str(data)], db=str(tmp_path / "r.duckdb"))
    markdown = to_markdown(summary)
    assert "SECRET" not in markdown
    assert "sex: is not one of the allowed values" in markdown
    assert "| in.csv" in markdown or str(data) in markdown

    async def latest_artifact() -> str:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["dxa-run-summary"])),
                limit=50,
            )
            return "\n".join(str(a.data) for a in found)

    import asyncio

    published = asyncio.run(latest_artifact())
    assert summary.run_id in published
    assert "SECRET" not in published
    # the same summary as `dxa report`: the registry at a glance, after the run's counts
    assert "Registry at a glance" in published
    assert summary.report.section("treatment").rows
    page = tmp_path / "r.report.html"  # the HTML page beside the reporting copy, linked
    assert summary.html_report == str(page) and page.as_uri() in published
    assert "SECRET" not in page.read_text(encoding="utf-8")


def test_an_identical_exam_sent_again_in_another_file_is_a_duplicate(tmp_path: Path) -> None:
    """Cumulative exports resend unchanged exams every night: counted, never quarantined."""
    db = tmp_path / "r.duckdb"
    first = write_csv(tmp_path / "first.csv", [make_row(exam_id="E1")])
    cumulative = write_csv(tmp_path / "second.csv",
                           [make_row(exam_id="E1"), make_row(exam_id="E2")])
    registry_flow(paths=[str(first)], db=str(db))
    summary = registry_flow(paths=[str(cumulative)], db=str(db))
    outcome = summary.files[0]
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined,
            outcome.rows_duplicate) == (2, 1, 0, 1)
    assert "1 exams already in the registry, identical: counted as duplicates" in outcome.notes
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM exams").fetchone()[0] == 2
        assert con.execute(
            "SELECT rows_duplicate FROM source_files WHERE path LIKE '%second.csv'"
        ).fetchone()[0] == 1


KEYS = {
    "exams": "exam_id",
    "measurements": "exam_id, site",
    "assessments": "exam_id, ruleset",
    "bmd_changes": "exam_id, site, comparison",
    "flags": "exam_id, code, detail, ruleset",
}


def test_derived_rows_stay_unique_through_reloads_rulesets_and_backfills(
    tmp_path: Path,
) -> None:
    """No table has a key constraint (migrations 004, 006): the loader keeps them
    unique. Reload, a second ruleset, an identical resend and a back-filled earlier exam
    (which re-judges the later one) must not leave two rows for one key."""
    db = tmp_path / "r.duckdb"
    later = dict(exam_date="2024-03-01", femoral_neck_bmd="0.600")
    first = write_csv(tmp_path / "a.csv", [
        make_row(exam_id="E1", patient_id="P1", exam_date="2020-03-01"),
        make_row(exam_id="E3", patient_id="P1", **later),
    ])
    backfill = write_csv(tmp_path / "b.csv", [
        make_row(exam_id="E2", patient_id="P1", exam_date="2022-03-01",
                 femoral_neck_bmd="0.700"),
        make_row(exam_id="E3", patient_id="P1", **later),  # identical resend
    ])
    registry_flow(paths=[str(first)], db=str(db))
    registry_flow(paths=[str(first)], db=str(db))  # skipped
    registry_flow(paths=[str(first)], db=str(db), ruleset="bhof-2022")  # assessed
    registry_flow(paths=[str(backfill)], db=str(db))
    with duckdb.connect(str(db), read_only=True) as con:
        for table, key in KEYS.items():
            repeated = con.execute(
                f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL"
                " HAVING count(*) > 1)"
            ).fetchone()[0]
            assert repeated == 0, table
        # E3 was compared with E1 on its first load; after the back-fill, with E2 (its
        # prior exam) and E1 (its baseline)
        assert con.execute(
            "SELECT exam_id, comparison, prior_exam_id FROM bmd_changes ORDER BY ALL"
        ).fetchall() == [("E2", "previous", "E1"), ("E3", "baseline", "E1"),
                         ("E3", "previous", "E2")]
        assert con.execute("SELECT count(*) FROM assessments").fetchone()[0] == 5


def test_run_records_its_ruleset_s_rules(sample_registry: Path) -> None:
    """The load stage writes the `rules` table, so reasons join to their wording."""
    from transforms.rules.catalog import rules_of
    from transforms.rules.ruleset import load_ruleset

    core = load_ruleset("core-2025")
    with duckdb.connect(str(sample_registry), read_only=True) as con:
        held = con.execute("SELECT count(*) FROM rules WHERE ruleset = ?",
                           [core.label]).fetchall()[0][0]
        unmatched = con.execute(
            "SELECT count(*) FROM (SELECT a.ruleset, unnest(a.reasons) AS rule_id"
            " FROM assessments a) u WHERE NOT EXISTS (SELECT 1 FROM rules r"
            " WHERE r.rule_id = u.rule_id AND r.ruleset = u.ruleset)"
        ).fetchall()[0][0]
    assert held == len(rules_of(core))
    assert unmatched == 0
