"""The reference files: T-score reference populations and standard populations.

They ship as data in `references/` (a package, so they install with the code), and a
T-score reference may also be given by path. One reader for both, so that a missing or
broken file is a ConfigError naming the file and what is wrong, never a traceback.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError


class ReferenceFileError(ConfigError):
    """A reference that is unknown, or a reference file that cannot be used (named in the
    message)."""


def shipped(file_name: str) -> Path:
    """The path of a file shipped in `references/` (whether or not it exists)."""
    return Path(str(resources.files("references").joinpath(file_name)))


def shipped_names() -> list[str]:
    """The names (without `.toml`) of the reference files shipped in `references/`."""
    folder = resources.files("references")
    return sorted(e.name.removesuffix(".toml") for e in folder.iterdir()
                  if e.name.endswith(".toml"))


def read_reference_file(path: Path) -> dict[str, Any]:
    """The TOML content of a reference file; ReferenceFileError when it cannot be read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReferenceFileError(f"{path}: not a readable TOML file ({exc})") from None
