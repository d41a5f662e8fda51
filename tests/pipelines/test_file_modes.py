"""Privacy by default: the registry 0600, the reporting copy 0640, staging files 0600.

Each check runs under a permissive umask (0022, the usual default) so that the modes come
from the code and not from the test's environment.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from exam_rows import make_row, write_csv

from pipelines.registry.publish import publish_reporting_copy, reporting_copy_path
from pipelines.registry.staging import staged, staging_file
from pipelines.registry.store import registry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def new_registry(folder: Path) -> Path:
    """A registry created (and closed) in `folder`."""
    db = folder / "registry.duckdb"
    with registry(db):
        pass
    return db


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_registry_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    db = new_registry(tmp_path)
    assert mode(db) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_a_mode_set_by_the_site_on_an_existing_registry_is_kept(tmp_path: Path) -> None:
    db = new_registry(tmp_path)
    db.chmod(0o640)
    with registry(db):
        pass
    assert mode(db) == 0o640


@pytest.mark.usefixtures("permissive_umask")
def test_the_reporting_copy_is_group_readable_not_world_readable(tmp_path: Path) -> None:
    db = new_registry(tmp_path)
    copy = publish_reporting_copy(db)
    assert copy == reporting_copy_path(db)
    assert mode(copy) == 0o640


@pytest.mark.usefixtures("permissive_umask")
def test_the_staging_database_is_private(tmp_path: Path) -> None:
    db = tmp_path / "registry.duckdb"
    with registry(db) as con, staged(con):
        path = staging_file(con)
        assert path.exists()
        assert mode(path) == 0o600


@pytest.mark.usefixtures("prefect_harness", "permissive_umask")
def test_a_run_leaves_no_file_readable_by_others(tmp_path: Path) -> None:
    from pipelines.flows.nightly import registry_flow

    data = tmp_path / "in"
    data.mkdir()
    export = write_csv(data / "night.csv", [make_row(exam_id=f"A{i}") for i in range(3)])
    out = tmp_path / "out"
    out.mkdir()
    db = out / "registry.duckdb"
    registry_flow(paths=[str(export)], db=str(db))
    modes = {p.name: mode(p) for p in out.iterdir()}
    assert modes["registry.duckdb"] == 0o600
    assert modes["registry.report.duckdb"] == 0o640
    assert modes["registry.report.html"] == 0o640
    assert all(not m & stat.S_IRWXO for m in modes.values()), modes
