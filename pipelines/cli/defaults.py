"""Defaults of `dxa` options from the environment and from `dxa.toml` in the current folder.

An operator who works on one registry should not type `--db` on every command. Where an
option's value comes from, first found wins:

1. the command line (`--db FILE`);
2. the environment: `DXA_DB` (each `--db` option declares it as its `envvar`);
3. `dxa.toml` in the current folder: `db`, `ruleset`, `lock_timeout`, `data_path`;
4. the built-in default (`dxa report` and `dxa export` read `registry.report.duckdb`).

click applies exactly this order (command line, then `envvar`, then the context's
`default_map`, then the option's default), so this module only reads the file and turns
it into a `default_map`; nothing here decides precedence. The file is checked by a
pydantic model: an unknown key or a value of the wrong type is refused in one line that
names the file and the key, before the command does anything.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.errors import ConfigError

#: The file read from the current folder.
CONFIG_FILE = "dxa.toml"
#: The environment variable every `--db` option reads (between command line and file).
DB_ENVVAR = "DXA_DB"
#: The environment variable `--data-path` reads (a new DuckLake registry's data folder).
DATA_PATH_ENVVAR = "DXA_DATA_PATH"
#: The environment variable every `--key-file` option reads (the registry's encryption key).
KEY_FILE_ENVVAR = "DXA_KEY_FILE"


class DxaConfig(BaseModel):
    """The keys `dxa.toml` may hold; TOML types are kept (strict: `"30"` is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    db: str | None = Field(default=None, min_length=1,
                           description="the registry (or reporting copy) every --db names")
    ruleset: str | None = Field(default=None, min_length=1,
                                description="the ruleset dxa run and dxa serve judge with")
    lock_timeout: float | None = Field(default=None, ge=0,
                                       description="seconds dxa run and dxa reassess wait")
    data_path: str | None = Field(default=None, min_length=1,
                                  description="a new DuckLake registry's data folder")


#: Which commands take each key as their option's default (command path -> option name).
#: `db`: every command that works on one registry; `dxa rulesets` alone (no subcommand)
#: lists the shipped rulesets unless given `--db` by hand, so it is left out. `ruleset`:
#: the commands that judge new exams (`dxa reassess` must be told which ruleset). The
#: `lock_timeout` is the writers' wait (readers wait 10 s, see `dxa report --help`).
APPLIES_TO: dict[str, tuple[tuple[str, ...], ...]] = {
    "db": (("run",), ("report",), ("export",), ("prevalence",), ("reassess",),
           ("compare",), ("serve",), ("rulesets", "forget"), ("rulesets", "primary")),
    "ruleset": (("run",), ("serve",)),
    "lock_timeout": (("run",), ("reassess",)),
    "data_path": (("run",), ("reassess",)),
}


def read_config(folder: Path) -> DxaConfig:
    """`dxa.toml` in `folder`, checked; no file means no defaults."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        return DxaConfig()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        return DxaConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """pydantic's findings as one line: the key and what is wrong, never the value."""
    known = ", ".join(DxaConfig.model_fields)
    found = []
    for error in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            found.append(f"unknown key {key!r} (known keys: {known})")
        else:
            found.append(f"{key}: {error['msg']}")
    return "; ".join(found)


def default_map(config: DxaConfig) -> dict[str, Any]:
    """click's `default_map` (nested by command name) for the keys the file sets."""
    tree: dict[str, Any] = {}
    for key, value in config.model_dump(exclude_none=True).items():
        for command in APPLIES_TO[key]:
            node = tree
            for name in command:
                node = node.setdefault(name, {})
            node[key] = value
    return tree
