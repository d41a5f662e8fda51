"""Precision-study configuration: the %CV per scanner and site behind every LSC verdict.

CHG-LSC (clinical-rules.md §7) makes a serial change significant only when it exceeds
LSC = 2.77 x the precision error of *that* scanner and site. Precision is facility data,
not a clinical rule, so it lives in `config/precision.toml` (defaults plus per-scanner
overrides) rather than in a ruleset. The file is validated strictly by a pydantic model,
as rulesets are, so a typo (an unknown site, a value in the wrong unit) cannot silently
fall back to a default: every problem is a `PrecisionError` whose message names the file
and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from schemas.columns import SITES
from schemas.errors import ConfigError
from transforms.config_errors import first_problem, read_config_toml

#: LSC multiplier at 95% confidence for two measurements (ISCD): 1.96 x sqrt(2).
LSC_FACTOR: Final = 2.77
#: Upper bound of a plausible precision error in %CV; larger values are taken as a unit
#: mistake (e.g. an LSC or a fraction entered instead of a %CV).
MAX_PRECISION_PCT: Final = 20.0
#: The shipped configuration (package `config`, installed as package data): found from a
#: checkout, an editable install and a wheel alike.
DEFAULT_PRECISION_PATH: Final = Path(str(resources.files("config").joinpath("precision.toml")))

PRECISION_SCHEMA: Final = {
    "scanner_serial": pl.String,
    "site": pl.String,
    "precision_pct": pl.Float64,
}


class PrecisionError(ConfigError, ValueError):
    """A precision file cannot be used; the message names the file and the offending key."""


@dataclass(frozen=True)
class PrecisionTable:
    """Validated precision errors (%CV): defaults by site and overrides by scanner serial.

    A site missing from both means "no precision known": serial comparison then reports
    the change but gives no significance verdict (radius_33 has no default in the spec).
    """

    path: str
    defaults: MappingProxyType[str, float]
    scanners: MappingProxyType[str, MappingProxyType[str, float]]

    def __reduce__(self) -> tuple[Any, tuple[str, dict[str, float], dict[str, dict[str, float]]]]:
        """Pickled as plain dicts (a mappingproxy does not pickle), so that a run's whole
        settings can travel to another process, e.g. a Dask worker."""
        scanners = {serial: dict(table) for serial, table in self.scanners.items()}
        return _table, (self.path, dict(self.defaults), scanners)

    def precision(self, site: str, scanner_serial: str | None = None) -> float | None:
        """The %CV for a site on a scanner, falling back to the default, or None."""
        if scanner_serial is not None and site in self.scanners.get(scanner_serial, {}):
            return self.scanners[scanner_serial][site]
        return self.defaults.get(site)

    def lsc(self, site: str, scanner_serial: str | None = None) -> float | None:
        """Least significant change in percent: 2.77 x precision (CHG-LSC), or None."""
        value = self.precision(site, scanner_serial)
        return None if value is None else LSC_FACTOR * value

    def as_frame(self) -> pl.DataFrame:
        """One row per configured value; scanner_serial null marks a default row.

        This is the shape serial comparison joins against (scanner row first, default
        row as fallback), so the lookup stays a vectorized join.
        """
        rows: list[tuple[str | None, str, float]] = [
            (None, site, value) for site, value in self.defaults.items()
        ]
        for serial in sorted(self.scanners):
            rows.extend((serial, site, v) for site, v in self.scanners[serial].items())
        return pl.DataFrame(rows, schema=PRECISION_SCHEMA, orient="row")


_PCT = Annotated[float, Field(
    strict=True, gt=0, le=MAX_PRECISION_PCT,
    description=(f"must be a precision error in %CV, a number greater than 0 and at most "
                 f"{MAX_PRECISION_PCT:g}"))]
_SITE = Literal[SITES]
_SERIAL = Annotated[str, Field(pattern=r"\S")]


class PrecisionFile(BaseModel):
    """What a precision file holds: `[default]` and `[scanner."SERIAL"]` tables of
    site = %CV. Unknown keys and sites are refused; every value is bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: dict[_SITE, _PCT] = {}
    scanner: dict[_SERIAL, dict[_SITE, _PCT]] = {}


def _key_of(loc: tuple[Any, ...]) -> str:
    """A location as the file spells it: `default.spine`, `scanner."HZ-100".spine`."""
    parts = [str(p) for p in loc if p != "[key]"]
    if parts[0] == "scanner" and len(parts) > 1:
        parts[1] = f'"{parts[1]}"'
    return ".".join(parts)


def _message_of(error: dict[str, Any]) -> str | None:
    """The wording of the problems that a field description cannot say."""
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "extra_forbidden":
        return "unknown key (allowed: default, scanner)"
    if loc[-1] == "[key]":
        if loc[0] == "scanner" and len(loc) == 3:
            return "scanner serial must not be blank"
        return f"unknown site (allowed: {', '.join(SITES)})"
    if kind == "dict_type":
        if loc == ("scanner",):
            return "must be a table of scanner serial tables"
        return "must be a table of site = precision %CV"
    return None


def _in_site_order(table: dict[str, float]) -> MappingProxyType[str, float]:
    """Sites in SITES order, so that output is stable whatever the file's order."""
    return MappingProxyType({site: table[site] for site in SITES if site in table})


def _table(path: str, defaults: dict[str, float],
           scanners: dict[str, dict[str, float]]) -> PrecisionTable:
    """A table again from its pickled dicts (already validated and in site order)."""
    return PrecisionTable(path, MappingProxyType(defaults),
                          MappingProxyType({s: MappingProxyType(t) for s, t in scanners.items()}))


def _validate(data: dict[str, Any], shown: str) -> PrecisionTable:
    problem = first_problem(PrecisionFile, data, key_of=_key_of, message_of=_message_of)
    if problem is not None:
        raise PrecisionError(f"{shown}: {problem}")
    content = PrecisionFile.model_validate(data)
    scanners = {serial: _in_site_order(t) for serial, t in content.scanner.items()}
    return PrecisionTable(path=shown, defaults=_in_site_order(content.default),
                          scanners=MappingProxyType(scanners))


def load_precision(path: Path | None = None) -> PrecisionTable:
    """Load and validate a precision file; None loads the shipped `config/precision.toml`."""
    target = DEFAULT_PRECISION_PATH if path is None else Path(path)
    shown = str(target)
    return _validate(read_config_toml(target, shown, "precision", PrecisionError), shown)
