"""`dxa prevalence` on registries loaded through the pipeline; `--t-reference` at load."""

from __future__ import annotations

import datetime as dt
import json
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
from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import PreparedInput, prepare_input
from pipelines.readers.prevalence import PrevalenceError, PrevalenceRequest, prevalence
from pipelines.readers.prevalence_options import parse_period
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run
from pipelines.registry.store import registry
from sources.base import ReadOptions
from sources.detect import Input
from transforms.precision import load_precision

runner = CliRunner()

#: (seqn, sex, age, neck BMD, spine BMD, weight, psu, stratum). Neck T = (BMD-0.858)/0.12,
#: spine T = (BMD-1.047)/0.11: 0.55 / 0.75 are osteoporosis, 0.70 / 0.90 low bone mass,
#: 0.90 / 1.10 normal.
PEOPLE = [
    (1, 2, 55, 0.55, 1.10, 1000.0, 1, 1),   # F 50-64 osteoporosis (neck)
    (2, 2, 60, 0.90, 0.90, 3000.0, 2, 1),   # F 50-64 low bone mass (spine)
    (3, 2, 70, 0.70, 0.75, 2000.0, 1, 2),   # F 65+ osteoporosis (spine)
    (4, 2, 75, 0.90, 1.10, 2000.0, 2, 2),   # F 65+ normal
    (5, 1, 52, 0.90, 1.10, 4000.0, 1, 1),   # M 50-64 normal
    (6, 1, 68, 0.70, 1.10, 1000.0, 2, 2),   # M 65+ low bone mass
    (7, 1, 58, 0.55, 1.10, 1000.0, 2, 1),   # M 50-64 osteoporosis
]


def _people(spine_of_7: int = 1) -> list[dict]:
    return [
        participant(s, sex=sex, age=age, neck=neck, total=0.9, spine_bmd=spine,
                    spine=spine_of_7 if s == 7 else 1, weight=w, psu=psu, stratum=stratum)
        for s, sex, age, neck, spine, w, psu, stratum in PEOPLE
    ]


def load(db: Path, inputs: list[Input], options: ReadOptions | None = None) -> None:
    """Prepare and load inputs as `dxa run` does (no Prefect)."""
    load_prepared(db, [prepare_input(item, options or ReadOptions()) for item in inputs])


def load_prepared(db: Path, prepared: list[PreparedInput]) -> None:
    ruleset = resolve_ruleset("core-2025")
    with registry(db) as con:
        begin_run(con, "test", ruleset.label)
        for item in prepared:
            assert item.error is None, item.error
            load_input(writer_for(con), "test", ruleset.label, item, decider_for(ruleset),
                       load_precision(None))


@pytest.fixture(scope="module")
def survey_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_nhanes(tmp_path_factory.mktemp("nh") / "J", _people(spine_of_7=2),
                          style="J", with_optional=False)
    db = folder.parent / "survey.duckdb"
    load(db, [Input(folder, "nhanes")])
    return db


def _weighted(rows: list[tuple[float, bool]]) -> float:
    return 100 * sum(w for w, y in rows if y) / sum(w for w, _y in rows)


def test_crude_weighted_prevalence_by_sex(survey_db: Path) -> None:
    result = prevalence(PrevalenceRequest(survey_db, by=("sex",), standard="none"))
    assert set(result.to_dict()) == {"per", "period", "overall", "groups"}
    assert (result.per, result.period) == ("patient", None)  # a participant is a patient
    # participant 7 has no valid spine: left out (both sites required)
    overall = result.overall
    assert overall["n"] == 6
    assert overall["osteoporosis_pct"] == round(_weighted(
        [(1000, True), (3000, False), (2000, True), (2000, False), (4000, False),
         (1000, False)]), 2)
    assert overall["low_bone_mass_pct"] == round(100 * 4000 / 13000, 2)
    women, men = result.groups
    assert set(women) == {"sex", "n", "osteoporosis_pct", "low_bone_mass_pct",
                          "osteoporosis_ci95", "low_bone_mass_ci95"}
    assert (women["sex"], women["n"], women["osteoporosis_pct"]) == ("F", 4, 37.5)
    assert (men["sex"], men["n"], men["osteoporosis_pct"], men["low_bone_mass_pct"]) == (
        "M", 2, 0.0, 20.0)
    lo, hi = women["osteoporosis_ci95"]
    assert 0 <= lo < 37.5 < hi <= 100


def test_age_standardised_to_us2000(survey_db: Path) -> None:
    result = prevalence(PrevalenceRequest(survey_db, by=("sex",), standard="us2000"))
    women = result.groups[0]
    # women 50-64: 1000 of 4000 weight osteoporotic (25 %); 65+: 2000 of 4000 (50 %)
    a = 41185865 / (41185865 + 34709480)
    assert women["osteoporosis_pct"] == round(100 * (a * 0.25 + (1 - a) * 0.5), 2)
    by_age = prevalence(PrevalenceRequest(survey_db, by=("sex", "age_group")))
    keys = [(g["sex"], g["age_group"]) for g in by_age.groups]
    assert keys == [("F", "50-64"), ("F", "65+"), ("M", "50-64"), ("M", "65+")]
    assert [g["osteoporosis_pct"] for g in by_age.groups[:2]] == [25.0, 50.0]


def test_unweighted_and_single_site(survey_db: Path) -> None:
    result = prevalence(PrevalenceRequest(survey_db, sites=("femoral_neck",),
                                          weights="none", standard="none"))
    # the neck alone: participant 7 counts again; 1, 7 osteoporosis of 7
    assert result.overall["n"] == 7
    assert result.overall["osteoporosis_pct"] == round(100 * 2 / 7, 2)


def test_registry_without_survey_design(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "in.csv", [make_row(exam_id="A"), make_row(
        exam_id="B", patient_id="P-2", femoral_neck_t="-2.7")])
    db = tmp_path / "reg.duckdb"
    load(db, [Input(csv, "canonical_csv")])
    with pytest.raises(PrevalenceError, match="use --weights none"):
        prevalence(PrevalenceRequest(db, sites=("femoral_neck",)))
    result = prevalence(PrevalenceRequest(db, sites=("femoral_neck",), weights="none",
                                          standard="none"))
    assert (result.overall["n"], result.overall["osteoporosis_pct"]) == (2, 50.0)


def test_t_reference_on_demand_keeps_the_reported_t_aside(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "in.csv", [make_row()])  # neck BMD 0.610, reported T -2.1
    db = tmp_path / "reg.duckdb"
    load(db, [Input(csv, "canonical_csv")], ReadOptions(t_reference="nhanes3"))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT femoral_neck_t FROM exams").fetchall() == [(-2.066667,)]
        assert con.execute(
            "SELECT site, t_reference, t_score, reported_t_score FROM t_score_sources"
        ).fetchall() == [("femoral_neck", "nhanes3", -2.066667, -2.1)]


def test_cli_prints_the_table_and_json(survey_db: Path) -> None:
    args = ["prevalence", "--db", str(survey_db), "--min-age", "50", "--sites",
            "femoral_neck,spine", "--by", "sex", "--standard", "us2000", "--weights", "survey"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "osteoporosis" in table.output and "NHANES-" not in table.output
    as_json = runner.invoke(app, [*args, "--format", "json"])
    assert json.loads(as_json.output)["groups"][0]["sex"] == "F"
    as_csv = runner.invoke(app, [*args, "--format", "csv"])
    assert as_csv.output.splitlines()[0].startswith("sex,n,osteoporosis_pct,")
    bad = runner.invoke(app, ["prevalence", "--db", str(survey_db), "--sites", "knee"])
    assert bad.exit_code == 1 and "--sites: unknown knee" in bad.output
    bad = runner.invoke(app, ["prevalence", "--db", str(survey_db), "--ci", "exact"])
    assert bad.exit_code == 1 and "--ci must be korn-graubard or wald" in bad.output
    wald = runner.invoke(app, ["prevalence", "--db", str(survey_db), "--ci", "wald"])
    assert wald.exit_code == 0 and "(Wald)" in wald.output
    bad = runner.invoke(app, ["prevalence", "--db", str(survey_db), "--standard", "who"])
    assert bad.exit_code == 1 and "--standard must be one of esp2013, us2000" in bad.output


#: (exam_id, patient_id, exam_date, sex, femoral neck T, spine T): a registry that sees
#: patients again. Categories at the neck: <= -2.5 osteoporosis, -2.5 < T < -1 low bone mass.
VISITS = [
    ("E1", "P-1", "2023-05-01", "F", -2.7, None),   # osteoporosis
    ("E2", "P-1", "2024-05-01", "F", -2.0, None),   # low bone mass
    ("E3", "P-1", "2025-03-01", "F", -2.6, None),   # osteoporosis
    ("E4", "P-1", "2025-09-01", "F", -1.5, None),   # low bone mass (P-1's latest)
    ("E5", "P-2", "2024-02-01", "F", -0.5, None),   # normal
    ("E6", "P-2", "2025-08-15", "F", -3.0, None),   # osteoporosis (P-2's latest)
    ("E7", "P-3", "2025-02-10", "M", -1.2, None),   # low bone mass (P-3's only)
    ("E8", "P-4", "2025-06-01", "F", -2.8, None),   # osteoporosis, same day as E9
    ("E9", "P-4", "2025-06-01", "F", -0.3, None),   # normal (the tie: larger exam_id)
    ("E10", "P-5", "2024-11-01", "F", -2.9, -2.0),  # osteoporosis, both sites
    ("E11", "P-5", "2025-01-20", "F", -1.0, None),  # normal (-1.0 is not low bone mass)
]


@pytest.fixture(scope="module")
def visits_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("visits")
    rows = [make_row(exam_id=e, patient_id=p, exam_date=d, sex=sex, femoral_neck_bmd="",
                     femoral_neck_t=neck, femoral_neck_z="", spine_t=spine,
                     menopausal_status="post" if sex == "F" else "")
            for e, p, d, sex, neck, spine in VISITS]
    db = folder / "visits.duckdb"
    load(db, [Input(write_csv(folder / "visits.csv", rows), "canonical_csv")])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM exams").fetchone() == (11,)
    return db


def _registry(db: Path, **options: object) -> PrevalenceRequest:
    return PrevalenceRequest(db, sites=("femoral_neck",), weights="none", standard="none",
                             **options)


def _counts(result) -> tuple:  # noqa: ANN001 - PrevalenceResult
    overall = result.overall
    return (result.per, result.period, result.exams, result.patients, overall["n"],
            overall["osteoporosis_pct"], overall["low_bone_mass_pct"])


def test_registry_prevalence_counts_each_patient_once_by_default(visits_db: Path) -> None:
    # latest exams: E4 low bone mass, E6 osteoporosis, E7 low bone mass, E9 normal (the
    # tie with E8 goes to the larger exam_id), E11 normal
    assert _counts(prevalence(_registry(visits_db))) == (
        "patient", None, 11, 5, 5, 20.0, 40.0)
    # per exam: E1 E3 E6 E8 E10 osteoporosis, E2 E4 E7 low bone mass, of 11
    assert _counts(prevalence(_registry(visits_db, per="exam"))) == (
        "exam", None, 11, 5, 11, round(100 * 5 / 11, 2), round(100 * 3 / 11, 2))


def test_a_period_keeps_its_exams_and_each_patient_s_latest_in_it(visits_db: Path) -> None:
    both_ends = (dt.date(2025, 3, 1), dt.date(2025, 9, 1))  # E3 E4 E6 E8 E9: first and last
    assert _counts(prevalence(_registry(visits_db, period=both_ends))) == (
        "patient", "2025-03-01:2025-09-01", 5, 3, 3, round(100 / 3, 2), round(100 / 3, 2))
    assert _counts(prevalence(_registry(visits_db, period=both_ends, per="exam"))) == (
        "exam", "2025-03-01:2025-09-01", 5, 3, 5, 60.0, 20.0)
    inside = (dt.date(2025, 3, 2), dt.date(2025, 8, 31))  # one day in from each end: E6 E8 E9
    assert _counts(prevalence(_registry(visits_db, period=inside, per="exam"))) == (
        "exam", "2025-03-02:2025-08-31", 3, 2, 3, round(200 / 3, 2), 0.0)
    year_2024 = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))  # E2 E5 E10, one each
    assert _counts(prevalence(_registry(visits_db, period=year_2024))) == (
        "patient", "2024-01-01:2024-12-31", 3, 3, 3, round(100 / 3, 2), round(100 / 3, 2))
    with pytest.raises(PrevalenceError, match="^no exam is dated within the period "
                                              "2026-01-01 to 2026-12-31$"):
        prevalence(_registry(visits_db, period=(dt.date(2026, 1, 1), dt.date(2026, 12, 31))))


def test_a_patient_counts_by_the_latest_exam_that_qualifies(visits_db: Path) -> None:
    # neck and spine: only E10 has both; P-5's later E11 (neck only) does not replace it
    both = PrevalenceRequest(visits_db, sites=("femoral_neck", "spine"), weights="none",
                             standard="none")
    assert _counts(prevalence(both)) == ("patient", None, 11, 5, 1, 100.0, 0.0)
    in_2025 = PrevalenceRequest(visits_db, sites=("femoral_neck", "spine"), weights="none",
                                standard="none", period=(dt.date(2025, 1, 1),
                                                         dt.date(2025, 12, 31)))
    assert prevalence(in_2025).overall["n"] == 0  # E10 is of 2024


def test_cli_per_and_period_are_said_under_the_table_and_in_json_and_csv(
    visits_db: Path,
) -> None:
    args = ["prevalence", "--db", str(visits_db), "--sites", "femoral_neck", "--weights",
            "none", "--standard", "none"]
    table = runner.invoke(app, [*args, "--period", "2025-03-01:2025-09-01"])
    assert table.exit_code == 0, table.output
    assert ("Counted per patient: each patient once, by their latest qualifying exam dated "
            "2025-03-01 to 2025-09-01 (3 patients, 5 exams).") in " ".join(table.output.split())
    per_exam = runner.invoke(app, [*args, "--per", "exam"])
    assert ("Counted per exam: every exam, a patient with several counting several times "
            "(11 exams of 5 patients).") in " ".join(per_exam.output.split())
    as_json = json.loads(runner.invoke(app, [*args, "--period", "2025Q1", "--format",
                                             "json"]).output)
    assert (as_json["per"], as_json["period"], as_json["overall"]["n"]) == (
        "patient", "2025-01-01:2025-03-31", 3)  # E3 E7 E11
    as_csv = runner.invoke(app, [*args, "--per", "exam", "--period", "2024", "--format",
                                 "csv"]).output.splitlines()
    assert as_csv[0].endswith(",per,period")
    assert as_csv[1].startswith("3,") and as_csv[1].endswith(",exam,2024-01-01:2024-12-31")
    for bad, message in (
        (["--per", "visit"], "--per must be patient or exam, not 'visit'"),
        (["--period", "2025Q5"], "--period must be YYYY (2025), YYYYQn (2025Q3) or FIRST:LAST"),
        (["--period", "2026"], "no exam is dated within the period 2026-01-01 to 2026-12-31"),
    ):
        result = runner.invoke(app, [*args, *bad])
        assert result.exit_code == 1 and message in result.output, result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("2025", ("2025-01-01", "2025-12-31")),
    ("2024Q1", ("2024-01-01", "2024-03-31")),
    ("2025q2", ("2025-04-01", "2025-06-30")),
    ("2025Q3", ("2025-07-01", "2025-09-30")),
    ("2025Q4", ("2025-10-01", "2025-12-31")),
    ("2025-01-01:2025-12-31", ("2025-01-01", "2025-12-31")),
    ("2025-02-28:2025-02-28", ("2025-02-28", "2025-02-28")),
    ("2025Q0", None), ("2025Q5", None), ("25", None), ("2025-03-01", None),
    ("2025-01-01:", None), ("2025-02-29:2025-03-01", None),
    ("2025-03-01:2025-02-28", None),
])
def test_period_forms(text: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="^--period must be YYYY"):
            parse_period(text)
    else:
        assert parse_period(text) == tuple(dt.date.fromisoformat(d) for d in expected)


def _survey_with_weights(folder: Path, weights: dict[int, float | None]) -> Path:
    """PEOPLE (participant 7 without a valid spine) as a registry, some weights replaced."""
    write_nhanes(folder, _people(spine_of_7=2), style="J", with_optional=False)
    demo = folder / "DEMO_J.XPT"
    frame = pyreadstat.read_xport(str(demo), output_format="polars")[0]
    for seqn, weight in weights.items():
        frame = frame.with_columns(pl.when(pl.col("SEQN") == seqn).then(weight)
                                   .otherwise(pl.col("WTMEC2YR")).alias("WTMEC2YR"))
    pyreadstat.write_xport(frame, str(demo), file_format_version=5, table_name="DEMO")
    db = folder.parent / f"{folder.name}.duckdb"
    load(db, [Input(folder, "nhanes")])
    return db


def test_a_negative_survey_weight_refuses_the_weighted_estimate(tmp_path: Path) -> None:
    db = _survey_with_weights(tmp_path / "negative", {7: -1000.0})  # 7: not even counted
    refused = ("survey weight WTMEC2YR (survey_design.weight_mec) is negative for 1 exams: "
               "the weighted estimate is refused (a design weight is never negative)")
    with pytest.raises(PrevalenceError) as caught:
        prevalence(PrevalenceRequest(db))
    assert str(caught.value) == refused
    result = runner.invoke(app, ["prevalence", "--db", str(db), "--weights", "survey"])
    assert result.exit_code == 1 and refused in " ".join(result.output.split())
    assert "Traceback" not in result.output
    unweighted = prevalence(PrevalenceRequest(db, weights="none", standard="none"))
    assert unweighted.overall["n"] == 6  # the weights play no part
    # the other side: a weight of 0 is a weight (the person counts for nobody)
    zero = _survey_with_weights(tmp_path / "zero", {7: 0.0, 1: 0.0})
    overall = prevalence(PrevalenceRequest(zero, standard="none")).overall
    assert (overall["n"], overall["osteoporosis_pct"]) == (6, round(100 * 2000 / 12000, 2))


def test_a_missing_weight_refuses_only_when_the_exam_counts(tmp_path: Path) -> None:
    db = _survey_with_weights(tmp_path / "counted", {3: None})
    with pytest.raises(PrevalenceError) as caught:
        prevalence(PrevalenceRequest(db))
    assert str(caught.value) == (
        "survey weight WTMEC2YR (survey_design.weight_mec) is missing for 1 exams counted "
        "(aged 50+ with a T-score at femoral_neck, spine): the weighted estimate is refused")
    # participant 7 has no valid spine, so it is not counted: left out with a note
    outside = _survey_with_weights(tmp_path / "outside", {7: None})
    result = prevalence(PrevalenceRequest(outside, standard="none"))
    assert result.overall["n"] == 6
    assert "1 exams without a weight, PSU or stratum left out (none of them counted)" in (
        result.notes)


def _real_data() -> Path:
    return Path(os.environ.get("DXA_NHANES_DATA", shared_nhanes()))


@pytest.mark.skipif(not (_real_data() / "P_DXXFEM.XPT").is_file(),
                    reason="the shared NHANES files (../shared/data/nhanes beside the repo, "
                           "or DXA_NHANES_DATA) are not here")
def test_end_to_end_on_the_shared_nhanes_files(tmp_path: Path) -> None:
    data = _real_data()
    prepared = prepare_input(Input(data, "nhanes"), ReadOptions())
    participants = 4593  # every DXA participant of the files: loaded or counted
    assert prepared.rows_read + sum(prepared.excluded.values()) == participants
    db = tmp_path / "nhanes.duckdb"
    load_prepared(db, [prepared])
    with duckdb.connect(str(db), read_only=True) as con:
        counts = con.execute("SELECT (SELECT count(*) FROM exams), (SELECT count(*) FROM"
                             " quarantine), (SELECT count(*) FROM survey_design)").fetchone()
    assert counts == (3735, 0, 3735)
    assert sum(prepared.excluded.values()) == 858
    result = prevalence(PrevalenceRequest(db, by=("sex",)))
    overall, women, men = result.overall, *result.groups
    assert overall["n"] == 1931 and women["n"] == 1024 and men["n"] == 907
    # close to, not equal to, NCHS Data Brief 405 (2017-2018: 12.6 / 19.6 / 4.4 / 43.1)
    assert (overall["osteoporosis_pct"], women["osteoporosis_pct"],
            men["osteoporosis_pct"], overall["low_bone_mass_pct"]) == (
        11.36, 16.98, 3.95, 45.48)
    # Korn-Graubard by default (as NCHS publishes); Wald on request
    assert overall["osteoporosis_ci95"] == [9.83, 13.03]
    wald = prevalence(PrevalenceRequest(db, ci="wald")).overall
    assert wald["osteoporosis_ci95"] == [9.86, 12.85]


@pytest.mark.skipif(not (_real_data() / "P_DXXFEM.XPT").is_file(),
                    reason="the shared NHANES files are not here")
def test_negative_weights_in_a_copy_of_the_real_files_are_noted_then_refused(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "nhanes"
    folder.mkdir()
    for source in _real_data().glob("*.XPT"):
        shutil.copyfile(source, folder / source.name)
    femur = pyreadstat.read_xport(str(folder / "P_DXXFEM.XPT"), output_format="polars")[0]
    damaged = femur.filter(pl.col("DXAFMRST") == 1).get_column("SEQN").head(3).to_list()
    demo = pyreadstat.read_xport(str(folder / "P_DEMO.XPT"), output_format="polars")[0]
    demo = demo.with_columns(pl.when(pl.col("SEQN").is_in(damaged))
                             .then(-pl.col("WTMECPRP")).otherwise(pl.col("WTMECPRP")))
    pyreadstat.write_xport(demo, str(folder / "P_DEMO.XPT"), file_format_version=5,
                           table_name="DEMO")
    prepared = prepare_input(Input(folder, "nhanes"), ReadOptions())
    assert (prepared.error, prepared.rows_read) == (None, 3735)
    assert [n for n in prepared.notes if "exam weight" in n] == [
        "exams with a negative MEC exam weight (WTMECPRP): 3 (loaded; `dxa prevalence "
        "--weights survey` refuses a weighted estimate that counts them)"]
    db = tmp_path / "nhanes.duckdb"
    load_prepared(db, [prepared])
    result = runner.invoke(app, ["prevalence", "--db", str(db), "--by", "sex"])
    assert result.exit_code == 1
    assert ("survey weight WTMECPRP (survey_design.weight_mec) is negative for 3 exams"
            in " ".join(result.output.split()))
    assert prevalence(PrevalenceRequest(db, weights="none")).overall["n"] == 1931


def test_cli_run_with_t_reference_through_the_flow(tmp_path: Path, prefect_harness) -> None:
    csv = write_csv(tmp_path / "in.csv", [make_row()])  # neck BMD 0.610, reported T -2.1
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(csv), "--db", str(db), "--t-reference",
                                 "nhanes3", "--json"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT femoral_neck_t FROM exams").fetchall() == [(-2.066667,)]
        assert con.execute("SELECT reported_t_score FROM t_score_sources").fetchall() == [
            (-2.1,)]
