"""The registry a `--db` value names, whichever backend holds it.

`ducklake:postgres:...` is a DuckLake on a PostgreSQL catalog (`pipelines.registry.ducklake`);
anything else is a DuckDB file (`pipelines.registry.duckdb_file`). Flows and readers open
registries here only, so neither knows which backend it works on.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.registry import keys
from pipelines.registry.duckdb_file import DuckDBFileRegistry
from pipelines.registry.ducklake import DuckLakeRegistry
from pipelines.registry.identify import NotARegistry, check_path
from pipelines.registry.interface import Registry
from pipelines.registry.lake_address import is_lake


def open_registry(db: Path | str, key: str | None = None) -> Registry:
    """The registry named by `--db`; a file is opened with `key`, else with the key this
    process was given (`keys.unlocked`: `--key-file`)."""
    key = key if key is not None else keys.current_key()
    if is_lake(db):
        if key is not None:  # never let a user believe a lake's Parquet files are encrypted
            raise NotARegistry(
                "--key-file encrypts a DuckDB file registry; a DuckLake registry's data path "
                "is not encrypted by it: leave --key-file (and DXA_KEY_FILE) out for a lake")
        return DuckLakeRegistry(db)
    return DuckDBFileRegistry(db, key)


def registry_present(db: Path | str) -> bool:
    """Whether `--db` names something to open: a path that exists (what it holds is
    identified when it is opened, with its own refusal), or a lake that exists."""
    if is_lake(db):
        return DuckLakeRegistry(db).exists()
    return Path(db).exists()


def require_registry(db: Path | str) -> None:
    """Refuse, in one line, a `--db` that names no registry (nothing is created)."""
    if is_lake(db):
        if not DuckLakeRegistry(db).exists():
            raise NotARegistry(f"no registry at {db}")
        return
    path = Path(db)
    if not path.exists() and not path.is_symlink():
        raise NotARegistry(f"no registry at {db}")
    check_path(path)
