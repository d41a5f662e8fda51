"""What a `--db ducklake:postgres:...` names, and the data path a new lake needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from postgres_server import PostgresServer

from pipelines.registry.ducklake import DuckLakeRegistry, NoDataPath
from pipelines.registry.identify import Content, NotARegistry, check_path
from pipelines.registry.lake_address import (
    DATA_PATH_ENVVAR,
    LAKE_PREFIX,
    LakeAddress,
    data_path_given,
    is_lake,
)
from pipelines.registry.opening import open_registry


def test_a_lake_is_told_from_a_file_before_anything_opens() -> None:
    db = LAKE_PREFIX + "dbname=dxa host=db.region port=5432 user=dxa_writer"
    assert is_lake(db) and not is_lake("registry.duckdb")
    assert check_path(Path(db)) is Content.LAKE
    assert isinstance(open_registry(Path(db)), DuckLakeRegistry)  # --db arrives as a Path


def test_a_key_file_is_refused_for_a_lake() -> None:
    """--key-file encrypts a DuckDB file; a lake's Parquet files would not be: refused in
    one line rather than ignored."""
    db = LAKE_PREFIX + "dbname=dxa host=db.region port=5432 user=dxa_writer"
    with pytest.raises(NotARegistry, match="--key-file encrypts a DuckDB file registry"):
        open_registry(Path(db), key="0123456789abcdef")


def test_a_password_in_the_address_is_never_shown() -> None:
    address = LakeAddress.parse(LAKE_PREFIX + "dbname=dxa host=h password=s3cret user=u")
    assert address.shown() == LAKE_PREFIX + "dbname=dxa host=h password=*** user=u"


def test_the_data_path_comes_from_the_option_else_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_PATH_ENVVAR, "/from/env")
    assert LakeAddress.parse(LAKE_PREFIX + "dbname=x").data_path == "/from/env"
    with data_path_given("/from/option"):
        assert LakeAddress.parse(LAKE_PREFIX + "dbname=x").data_path == "/from/option"


def test_a_new_lake_without_a_data_path_is_refused_and_nothing_created(
        postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_PATH_ENVVAR, raising=False)
    registry = DuckLakeRegistry(LAKE_PREFIX + postgres.conninfo(postgres.fresh_database()))
    with pytest.raises(NoDataPath, match="a new lake needs --data-path DIR"), registry.writer():
        pass
    assert not registry.exists()


def test_later_writers_and_readers_need_no_data_path(postgres: PostgresServer,
                                                     tmp_path: Path) -> None:
    db = LAKE_PREFIX + postgres.conninfo(postgres.fresh_database())
    with DuckLakeRegistry(db, data_path=str(tmp_path / "data")).writer() as writer:
        writer.begin_run("first", "core-2025@3")
    with DuckLakeRegistry(db).writer() as writer:
        assert writer.mark_interrupted() == 1
        assert writer.location == tmp_path / "data" / "registry"  # the page goes beside the data
    with DuckLakeRegistry(db).reader() as con:
        assert con.execute("SELECT run_id, status FROM runs").fetchall() == [
            ("first", "interrupted")]
