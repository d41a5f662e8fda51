"""DuckDB extensions installed and loaded offline, from the extension wheels on PyPI.

DuckDB downloads an extension on first use; a registry host often has no internet and a
download is code nobody reviewed. PyPI carries extension wheels (`duckdb-extension-httpfs`,
`-ducklake`, `-postgres`) built for one DuckDB release each, which is why `duckdb` is
pinned to exactly that release in pyproject.toml. The wheel's `.duckdb_extension` file is
INSTALLed from its path into a project-local extension folder (`SET extension_directory`
to the wheel's own folder does not work: DuckDB then tries to download) and LOADed.
Writing an encrypted registry needs httpfs (its cryptography); reading one does not.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import duckdb

from pipelines.runtime.privacy import PRIVATE_FOLDER_MODE
from schemas.errors import RegistryError

#: Where the installed copies live unless `DXA_EXTENSION_DIR` names a folder.
EXTENSION_DIR_ENVVAR = "DXA_EXTENSION_DIR"


class ExtensionMissing(RegistryError):
    """An extension's wheel is not installed (or was built for another DuckDB release)."""


def extension_directory() -> Path:
    """`DXA_EXTENSION_DIR`, else `$XDG_CACHE_HOME/dxa/duckdb-extensions` (~/.cache/...),
    created private (0700): code DuckDB loads must not be writable by others."""
    chosen = os.environ.get(EXTENSION_DIR_ENVVAR)
    if chosen:
        folder = Path(chosen).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(cache).expanduser() / "dxa" / "duckdb-extensions"
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    return folder


def wheel_file(name: str) -> Path:
    """The `.duckdb_extension` file the wheel `duckdb-extension-<name>` ships for the
    running DuckDB; refused in one line when the wheel is absent or for another release."""
    package = f"duckdb_extension_{name}"
    wheel = f"duckdb-extension-{name}=={duckdb.__version__}"
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise ExtensionMissing(f"the DuckDB extension {name} is not installed: install "
                               f"{wheel} (./scripts/bootstrap.sh)") from None
    found = root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not found.is_file():
        raise ExtensionMissing(f"the DuckDB extension wheel {package} was not built for "
                               f"DuckDB {duckdb.__version__}: install {wheel}")
    return Path(str(found))


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """INSTALL the wheel's extension into the project's extension folder and LOAD it."""
    source = wheel_file(name)
    folder = extension_directory()
    con.execute(f"SET extension_directory = {_literal(str(folder))}")
    con.execute(f"INSTALL {_literal(str(source))}")
    con.execute(f"LOAD {name}")


def _literal(text: str) -> str:
    """A SQL string literal (INSTALL and SET take no parameters)."""
    return "'" + text.replace("'", "''") + "'"
