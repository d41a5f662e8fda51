"""prior_fracture_sites (registry contract §1): `;`-separated site codes, a List(String)
of distinct codes in canonical order; a listed site implies a prior fragility fracture."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from exam_rows import make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.store import registry
from schemas.columns import FRACTURE_SITES
from sources.detect import discover
from transforms.precision import load_precision

UNKNOWN = ("prior_fracture_sites: holds a code that is not one of hip, vertebral, humerus,"
           " pelvis, forearm, other")
CONTRADICTS = "prior_fracture_sites: lists fracture sites but prior_fragility_fracture is no"


def prepared_rows(tmp_path: Path, rows: list[dict[str, str]]):
    inputs, _ = discover([write_csv(tmp_path / "f.csv", rows)])
    prepared = prepare_input(inputs[0])
    assert prepared.error is None, prepared.error
    return prepared


@pytest.mark.parametrize(("text", "prior", "sites", "fracture"), [
    ("hip", "", ["hip"], True),
    (" Forearm ; HIP;hip ", "", ["hip", "forearm"], True),
    ("other;pelvis;humerus;vertebral;forearm;hip", "yes", list(FRACTURE_SITES), True),
    ("hip;;", "yes", ["hip"], True),
    ("", "", None, None),
    ("", "no", None, False),
    ("  ", "yes", None, True),
])
def test_sites_parse_to_distinct_codes_in_canonical_order(
    tmp_path: Path, text: str, prior: str, sites: list[str] | None, fracture: bool | None
) -> None:
    prepared = prepared_rows(tmp_path, [make_row(prior_fracture_sites=text,
                                                 prior_fragility_fracture=prior)])
    assert prepared.quarantine.height == 0, prepared.quarantine["errors"].to_list()
    assert prepared.valid.schema["prior_fracture_sites"] == pl.List(pl.String)
    assert prepared.valid["prior_fracture_sites"].to_list() == [sites]
    assert prepared.valid["prior_fragility_fracture"].to_list() == [fracture]


@pytest.mark.parametrize(("text", "prior", "errors"), [
    ("knee", "", UNKNOWN),
    ("hip;knee", "yes", UNKNOWN),
    ("hip", "no", CONTRADICTS),
    ("vertebral; other", "n", CONTRADICTS),
])
def test_unknown_codes_and_contradictions_are_quarantined(
    tmp_path: Path, text: str, prior: str, errors: str
) -> None:
    prepared = prepared_rows(tmp_path, [make_row(prior_fracture_sites=text,
                                                 prior_fragility_fracture=prior)])
    assert prepared.valid.height == 0
    assert prepared.quarantine["errors"].to_list() == [errors]


def test_sites_are_stored_in_exams(tmp_path: Path) -> None:
    prepared = prepared_rows(tmp_path, [
        make_row(exam_id="E1", prior_fracture_sites="vertebral;hip", prior_fragility_fracture=""),
        make_row(exam_id="E2"),
    ])
    chosen = resolve_ruleset("core-2025")
    with registry(tmp_path / "r.duckdb") as con:
        load_input(writer_for(con),
                   "run-1", chosen.label, prepared, decider_for(chosen), load_precision())
        assert con.execute("SELECT exam_id, prior_fracture_sites, prior_fragility_fracture"
                           " FROM exams ORDER BY exam_id").fetchall() == [
            ("E1", ["hip", "vertebral"], True), ("E2", None, False)]
