"""The registry contract: what every storage backend must do, run against each of them.

A second backend is added by putting its factory in `BACKENDS` and passing these tests;
nothing else in the application changes. Every test here goes through the interface
(`pipelines.registry.interface`) only; reading back uses the reader's connection, which
is SQL over the registry's tables and views, as every reader uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from exam_rows import make_row, write_csv
from lock_holder import write_lock_held

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.plan import Admitted, plan_batch
from pipelines.ingest.prepare import PreparedInput, prepare_input
from pipelines.registry.duckdb_file import DuckDBFileRegistry
from pipelines.registry.ducklake import DuckLakeRegistry
from pipelines.registry.identify import NotARegistry
from pipelines.registry.interface import BatchWrite, Registry
from pipelines.registry.lake_address import LAKE_PREFIX
from pipelines.registry.lake_catalog import LakeCatalog
from pipelines.registry.opening import open_registry
from pipelines.registry.outcome import FileOutcome, RunSummary
from pipelines.registry.reads import EXAM_COLUMNS
from pipelines.registry.staging import REGISTRY
from pipelines.registry.store import RegistryLocked
from pipelines.runtime.timing import StageTimer
from schemas.vocabulary import FileAction, RunStatus
from sources.detect import discover
from transforms.precision import load_precision

#: name -> factory(folder, request) of a fresh, not yet created registry.
BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Registry]] = {
    "duckdb-file": lambda folder, _: DuckDBFileRegistry(folder / "registry.duckdb"),
    "duckdb-file-encrypted": lambda folder, _: DuckDBFileRegistry(
        folder / "registry.duckdb", key="contract-test-key-0123456789"),
    # a fresh PostgreSQL database of the session's server as catalog, data under the test's
    "ducklake-postgres": lambda folder, request: DuckLakeRegistry(
        LAKE_PREFIX + request.getfixturevalue("postgres").conninfo(
            request.getfixturevalue("postgres").fresh_database()),
        data_path=str(folder / "lake-data")),
}


@pytest.fixture(params=sorted(BACKENDS))
def make_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Registry]:
    return lambda: BACKENDS[request.param](tmp_path, request)


def _prepared(folder: Path, name: str = "f.csv", **rows: dict[str, str]) -> PreparedInput:
    path = write_csv(folder / name, [make_row(exam_id=exam, **fields)
                                      for exam, fields in rows.items()])
    inputs, _ = discover([path])
    return prepare_input(inputs[0])


def _rows(prepared: PreparedInput) -> BatchWrite:
    """One batch planned as the loader plans it: every table's full rows."""
    batch = next(prepared.batches())
    chosen = resolve_ruleset("core-2025")
    history = batch.valid.select(EXAM_COLUMNS).clear()
    return plan_batch(Admitted(batch.valid, batch.quarantine, 0), history, prepared,
                      decider_for(chosen), load_precision(), "run-1", StageTimer()).rows


def _count(registry: Registry, table: str) -> int:
    with registry.reader() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _load(registry: Registry, prepared: PreparedInput, run_id: str = "run-1") -> FileOutcome:
    chosen = resolve_ruleset("core-2025")
    with registry.writer() as writer:
        writer.begin_run(run_id, chosen.label)
        return load_input(writer, run_id, chosen.label, prepared, decider_for(chosen),
                          load_precision())


def test_a_writer_creates_and_migrates_a_new_registry(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    assert not registry.exists()
    with registry.writer():
        pass
    assert registry.exists()
    for table in ("exams", "assessments", "flags", "runs", "quarantine", "schema_migrations"):
        assert _count(registry, table) >= 0


def test_a_reader_of_no_registry_is_refused(make_registry) -> None:
    registry = make_registry()
    with pytest.raises(NotARegistry, match="no registry at"), registry.reader():
        pass
    assert not registry.exists()  # a reader never creates one


def test_a_file_is_loaded_whole_and_accounted_for(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    outcome = _load(registry, _prepared(tmp_path, A={}, B={"patient_id": "P-2"}))
    assert (outcome.rows_read, outcome.rows_loaded, outcome.balanced) == (2, 2, True)
    assert _count(registry, "exams") == 2
    assert _count(registry, "assessments") == 2
    with registry.reader() as con:
        assert con.execute("SELECT status, rows_loaded FROM source_files").fetchall() == [
            ("loaded", 2)]


def test_a_failed_transaction_leaves_nothing(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    rows = _rows(_prepared(tmp_path, A={}))
    with (registry.writer() as writer, pytest.raises(RuntimeError, match="half-way"),
          writer.transaction()):
        writer.write_batch(rows, REGISTRY)
        raise RuntimeError("half-way")
    assert _count(registry, "exams") == 0


def test_transactions_nest_into_one(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    exams = _rows(_prepared(tmp_path, A={})).frames["exams"]
    with registry.writer() as writer, pytest.raises(RuntimeError), writer.transaction():
        with writer.transaction():
            writer.append("exams", exams)
        assert writer.read("SELECT count(*) AS n FROM exams").item() == 1  # inner: no commit
        raise RuntimeError("the outer one fails")
    assert _count(registry, "exams") == 0


def test_the_ledger_records_runs_and_closes_the_interrupted(make_registry) -> None:
    registry = make_registry()
    with registry.writer() as writer:
        writer.begin_run("dead", "core-2025@3")  # a process killed before its end
    with registry.writer() as writer:
        assert writer.mark_interrupted() == 1
        writer.begin_run("alive", "core-2025@3")
        summary = RunSummary(run_id="alive", ruleset="core-2025@3", db_path="x",
                             status=RunStatus.COMPLETED)
        writer.finish_run(summary)
        writer.set_rows_read("alive", 7)
    with registry.reader() as con:
        assert con.execute("SELECT run_id, status, rows_read FROM runs ORDER BY run_id"
                           ).fetchall() == [("alive", "completed", 7),
                                            ("dead", "interrupted", 0)]


def test_recorded_files_are_known_by_content(make_registry) -> None:
    registry = make_registry()
    outcome = FileOutcome(path="in.csv", status=FileAction.LOADED, sha256="abc")
    with registry.writer() as writer:
        assert writer.loaded_fingerprints() == set()
        with writer.transaction():
            writer.record_file("run-1", "core-2025@3", outcome)
        assert writer.loaded_fingerprints() == {"abc"}


def test_overlap_tells_resends_from_conflicts(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    _load(registry, _prepared(tmp_path, A={}, B={}))
    again = _prepared(tmp_path, "g.csv", A={}, B={"femoral_neck_t": "-3.0"}, C={})
    with registry.writer() as writer:
        overlap = writer.overlap(next(again.batches()).valid)
    assert overlap.identical.get_column("exam_id").to_list() == ["A"]
    assert overlap.conflicting.get_column("exam_id").to_list() == ["B"]


def test_history_holds_only_the_batch_patients(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    _load(registry, _prepared(tmp_path, A={}, B={"patient_id": "P-2"}))
    with registry.writer() as writer:
        history = writer.history(pl.DataFrame({"patient_id": ["P-2"]}), REGISTRY)
    assert history.get_column("exam_id").to_list() == ["B"]


def test_staged_rows_enter_the_registry_only_when_moved(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    rows = _rows(_prepared(tmp_path, A={}))
    with registry.writer() as writer, writer.staged() as stage:
        with writer.transaction():
            writer.write_batch(rows, stage)
        assert writer.read("SELECT count(*) AS n FROM exams").item() == 0
        with writer.transaction():
            writer.move_staged(stage)
    assert _count(registry, "exams") == 1


def test_rulesets_are_held_made_primary_and_forgotten(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    _load(registry, _prepared(tmp_path, A={}))
    core, bhof = resolve_ruleset("core-2025"), resolve_ruleset("bhof-2022")
    with registry.writer() as writer:
        for ruleset in (core, bhof):
            writer.record_ruleset(writer.check_ruleset(ruleset), ruleset)
        writer.set_primary(core.label)
        with pytest.raises(Exception, match="primary ruleset"):
            writer.forget_ruleset(core.label)
        writer.set_primary(bhof.label)
        assert writer.forget_ruleset(core.label)[0] == 1
    assert _count(registry, "assessments") == 0


def test_pending_exams_are_numbered_and_read_in_batches(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    _load(registry, _prepared(tmp_path, A={}, B={"patient_id": "P-2"}, C={"patient_id": "P-3"}))
    with registry.writer() as writer:
        assert writer.number_pending("bhof-2022@3", latest_only=False) == (3, 0)
        first = writer.pending_batch(1, 2).get_column("exam_id").to_list()
        rest = writer.pending_batch(3, 4).get_column("exam_id").to_list()
        writer.drop_pending()
        assert writer.number_pending("core-2025@3", latest_only=False) == (0, 3)
    assert first + rest == ["A", "B", "C"]


def test_the_reporting_copy_holds_what_was_committed(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    _load(registry, _prepared(tmp_path, A={}, B={}))
    with registry.writer() as writer:
        copy = writer.publish_reporting_copy()
    assert copy == registry.reporting_copy()
    # the copy of an encrypted registry is encrypted with the same key; a lake is its own
    # reporting copy (readers read its committed snapshots)
    with open_registry(copy, key=getattr(registry, "key", None)).reader() as con:
        assert con.execute("SELECT count(*) FROM exams").fetchone()[0] == 2


def test_a_copy_leaves_the_registry_as_it_was(make_registry, tmp_path: Path) -> None:
    registry = make_registry()
    _load(registry, _prepared(tmp_path, A={}))
    scratch = registry.copy_to(tmp_path / "what-if.duckdb", lock_timeout_s=5)
    with scratch.writer() as writer:
        writer.forget_ruleset("bhof-2022@3")  # a write to the copy only
        writer.begin_run("copy-only", "core-2025@3")
    assert _count(scratch, "runs") == _count(registry, "runs") + 1


@contextmanager
def _another_writer(registry: Registry) -> Iterator[None]:
    """Another process writing: the file's lock held by a child; the lake's write lock
    held on a catalog connection of its own (another PostgreSQL session)."""
    if not isinstance(registry, DuckLakeRegistry):
        with write_lock_held(registry.location, getattr(registry, "key", None)):
            yield
        return
    catalog = LakeCatalog(registry.address)
    try:
        with catalog.write_lock(5.0):
            yield
    finally:
        catalog.close()


def test_a_locked_registry_is_said_in_one_line(make_registry) -> None:
    registry = make_registry()
    with registry.writer():
        pass
    with (_another_writer(registry),
          pytest.raises(RegistryLocked, match="locked by another process"),
          registry.writer(lock_timeout_s=0.5)):
        pass
