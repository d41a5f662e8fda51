"""What a `--db ducklake:postgres:...` value names, and where a new lake keeps its data.

A regional registry is a DuckLake: its catalog (tables, snapshots, which Parquet file
holds which rows) in a PostgreSQL database, its rows in Parquet files under a data path
on shared or object storage. `--db` names the catalog with libpq's key=value string
(`ducklake:postgres:dbname=dxa host=db.region port=5432 user=dxa`); the password, if
any, comes from `~/.pgpass` or `PGPASSFILE`, never from the command line. The data path is
needed once, by the writer that creates the lake (`--data-path`, `DXA_DATA_PATH` or
`data_path` in dxa.toml): the catalog remembers it, so readers and later writers name
the catalog only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: How a `--db` value naming a DuckLake on a PostgreSQL catalog begins.
LAKE_PREFIX = "ducklake:postgres:"
#: The environment variable naming a new lake's data path.
DATA_PATH_ENVVAR = "DXA_DATA_PATH"

_data_path: list[str | None] = [None]


def is_lake(db: Path | str) -> bool:
    """Whether `--db` names a DuckLake catalog rather than a DuckDB file."""
    return str(db).startswith(LAKE_PREFIX)


@dataclass(frozen=True)
class LakeAddress:
    """The catalog's connection string, and the data path a new lake is created with."""

    conninfo: str
    data_path: str | None = None

    @classmethod
    def parse(cls, db: Path | str, data_path: str | None = None) -> LakeAddress:
        conninfo = str(db)[len(LAKE_PREFIX):].strip()
        return cls(conninfo, data_path if data_path is not None else current_data_path())

    @property
    def attach_string(self) -> str:
        return f"{LAKE_PREFIX}{self.conninfo}"

    def shown(self) -> str:
        """The address as messages print it: a password in the string is masked."""
        return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", self.attach_string)


def current_data_path() -> str | None:
    """The data path this process creates a lake with (`--data-path`, else
    `DXA_DATA_PATH`), or None."""
    return _data_path[0] or os.environ.get(DATA_PATH_ENVVAR) or None


@contextmanager
def data_path_given(folder: Path | str | None) -> Iterator[None]:
    """Lakes created meanwhile keep their data under `folder` (None: the environment's)."""
    previous = _data_path[0]
    _data_path[0] = None if folder is None else str(folder)
    try:
        yield
    finally:
        _data_path[0] = previous
