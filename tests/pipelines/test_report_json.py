"""The JSON report against its schema: numbers as numbers, sections with stable keys.

The schema (pipelines/readers/reporting/report.schema.json) is the contract machines read; these
tests hold the real output of `dxa report --format json` and of the run summary to it, and
check that the shapes the old report printed (counts as strings, keys such as
"core-2025@3: normal") are refused.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from report_registry import AS_OF, build_registry
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.reporting.registry import SECTIONS
from pipelines.readers.reporting.render_json import report_dict, report_schema
from pipelines.readers.summary import run_report, summary_json
from pipelines.registry.outcome import FileOutcome, RunSummary


@pytest.fixture(scope="module")
def registry_json(tmp_path_factory: pytest.TempPathFactory) -> dict:
    db = build_registry(tmp_path_factory.mktemp("json"))
    result = CliRunner().invoke(app, ["report", "--db", str(db), "--as-of", AS_OF,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator(report_schema()).validate(document)


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(report_schema())


def test_dxa_report_json_satisfies_the_schema(registry_json: dict) -> None:
    validate(registry_json)
    assert registry_json["report"] == "registry" and registry_json["as_of"] == AS_OF
    assert [s["section"] for s in registry_json["sections"]] == [q.key for q in SECTIONS]


def test_numbers_are_numbers_and_rows_have_stable_keys(registry_json: dict) -> None:
    sections = {s["section"]: s for s in registry_json["sections"]}
    treatment = sections["treatment"]["rows"]
    assert {"ruleset": "core-2025@3", "treatment": "recommended", "patients": 3} in treatment
    assert sections["registry"]["rows"] == [{"exams": 12, "patients": 10,
                                             "exam_ids_held_twice": 0,
                                             "quarantined_rows": 3, "runs": 3}]
    latest = sections["latest_run"]["rows"][0]
    assert latest["rows_read"] == 4 and isinstance(latest["rows_read"], int)
    dt.datetime.fromisoformat(latest["started_at"])
    assert sections["treatment"]["columns"] == [
        {"name": "ruleset", "type": "text"}, {"name": "treatment", "type": "text"},
        {"name": "patients", "type": "int"}]
    for section in registry_json["sections"]:
        for row in section["rows"]:
            assert not [key for key in row if ":" in key or "@" in key]


def test_the_old_shapes_are_refused(registry_json: dict) -> None:
    as_text = copy.deepcopy(registry_json)
    registry = next(s for s in as_text["sections"] if s["section"] == "registry")
    registry["rows"][0]["exams"] = "12"
    with pytest.raises(jsonschema.ValidationError):
        validate(as_text)
    old_keys = copy.deepcopy(registry_json)
    categories = next(s for s in old_keys["sections"] if s["section"] == "categories")
    categories["rows"] = [{"core-2025@3: normal": "2"}]
    with pytest.raises(jsonschema.ValidationError):
        validate(old_keys)
    reordered = copy.deepcopy(registry_json)
    reordered["sections"].reverse()
    with pytest.raises(jsonschema.ValidationError):
        validate(reordered)


def test_run_summary_sections_satisfy_the_schema(registry_json: dict) -> None:
    summary = RunSummary(run_id="r1", ruleset="core-2025@3", db_path="x.duckdb",
                         status="completed",
                         files=[FileOutcome(path="in.csv", status="loaded", rows_read=3,
                                            rows_loaded=2, rows_quarantined=1)],
                         quarantine_reasons={"sex: is required": 1},
                         categories={"osteopenia": 2}, treatments={"consider": 2},
                         flags={"SCANNER_CHANGED": 1})
    validate(report_dict(run_report(summary, dt.date(2030, 1, 1))))
    printed = summary_json(summary)
    assert (printed["rows_read"], printed["rows_loaded"], printed["files_failed"]) == (3, 2, 0)
    assert printed["sections"][2]["rows"] == [{"reason": "sex: is required", "rows": 1}]
    json.dumps(printed)  # plain JSON, nothing left for a default= hook


def test_readme_example_has_the_printed_shape(registry_json: dict) -> None:
    """The README's JSON excerpt (some sections) fits the schema in place of the real ones."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```json\n", readme.index("### Machine-readable report"))
    example = json.loads(readme[start + len("```json\n"):readme.index("```", start + 8)])
    shown = {s["section"]: s for s in example["sections"]}
    assert shown, "the README shows no section"
    document = {**registry_json, "as_of": example["as_of"],
                "sections": [shown.get(s["section"], s) for s in registry_json["sections"]]}
    validate(document)


def test_an_empty_registry_has_every_section_without_rows(tmp_path: Path) -> None:
    from pipelines.readers.report import build_report
    from pipelines.registry.store import registry

    with registry(tmp_path / "empty.duckdb"):
        pass
    document = report_dict(build_report(tmp_path / "empty.duckdb", AS_OF))
    validate(document)
    rows = {s["section"]: s["rows"] for s in document["sections"]}
    assert rows["latest_run"] == [] and rows["treatment"] == []
    assert rows["registry"] == [{"exams": 0, "patients": 0, "exam_ids_held_twice": 0,
                                 "quarantined_rows": 0, "runs": 0}]
