"""The committed sample loaded into a registry without Prefect, and its reporting copy.

Readers' tests (SQL clients, worklists, research extracts) need a registry with every kind
of row: treatment candidates, overdue patients, workups, VFA, significant losses and
quarantined rows. The sample holds all of them; loading it with the flow's own stages
(discover, prepare, load, publish) takes seconds where the flow adds Prefect's start-up.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.publish import publish_reporting_copy
from pipelines.registry.rules_table import record_rules
from pipelines.registry.store import registry
from sources.detect import discover
from transforms.precision import load_precision

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def load_sample_registry(db: Path, ruleset: str = "core-2025", source: Path = SAMPLE) -> Path:
    """Load sample_data (or the exports under `source`) into `db` as one completed run;
    publish and return the copy."""
    chosen = resolve_ruleset(ruleset)
    decide = decider_for(chosen)
    precision = load_precision()
    inputs, _ = discover([source])
    run_id = f"sample-{chosen.id}"
    with registry(db) as con:
        con.execute(
            "INSERT INTO runs (run_id, started_at, status, ruleset) VALUES (?, ?, 'running', ?)",
            [run_id, dt.datetime.now(), chosen.label],
        )
        record_rules(con, chosen)  # as the flow does whenever a ruleset is used
        for item in inputs:
            load_input(writer_for(con),
                       run_id, chosen.label, prepare_input(item), decide, precision)
        con.execute("UPDATE runs SET status = 'completed', finished_at = ? WHERE run_id = ?",
                    [dt.datetime.now(), run_id])
        return publish_reporting_copy(db, con)


_BUILT: dict[str, Path] = {}


def shared_sample_copy(tmp_path_factory) -> Path:  # noqa: ANN001 - pytest's factory
    """One sample registry per test session (its reporting copy), whichever module asks."""
    if "copy" not in _BUILT:
        folder = tmp_path_factory.mktemp("sample-registry")
        _BUILT["copy"] = load_sample_registry(folder / "registry.duckdb")
    return _BUILT["copy"]
