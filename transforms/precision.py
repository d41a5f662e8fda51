"""Precision-study configuration: the %CV per scanner and site behind every LSC verdict.

CHG-LSC (clinical-rules.md §7) makes a serial change significant only when it exceeds
LSC = 2.77 x the precision error of *that* scanner and site. Precision is facility data,
not a clinical rule, so it lives in `config/precision.toml` (defaults plus per-scanner
overrides) rather than in a ruleset. The file is validated strictly, as rulesets are, so a
typo (an unknown site, a value in the wrong unit) cannot silently fall back to a default:
every problem is a `PrecisionError` whose message names the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from schemas.errors import ConfigError
from transforms.columns import SITES

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


def _sites(table: Any, key: str, shown: str) -> MappingProxyType[str, float]:
    """Validate one `site = %CV` table; keys in SITES order for stable output."""
    if not isinstance(table, dict):
        raise PrecisionError(f"{shown}: {key}: must be a table of site = precision %CV")
    for site in table:
        if site not in SITES:
            raise PrecisionError(
                f"{shown}: {key}.{site}: unknown site (allowed: {', '.join(SITES)})"
            )
    out: dict[str, float] = {}
    for site in SITES:
        if site not in table:
            continue
        value = table[site]
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and 0 < value <= MAX_PRECISION_PCT
        )
        if not ok:
            raise PrecisionError(
                f"{shown}: {key}.{site}: must be a precision error in %CV, a number "
                f"greater than 0 and at most {MAX_PRECISION_PCT:g}"
            )
        out[site] = float(value)
    return MappingProxyType(out)


def _validate(data: dict[str, Any], shown: str) -> PrecisionTable:
    for key in data:
        if key not in ("default", "scanner"):
            raise PrecisionError(f"{shown}: {key}: unknown key (allowed: default, scanner)")
    defaults = _sites(data.get("default", {}), "default", shown)
    scanner_tables = data.get("scanner", {})
    if not isinstance(scanner_tables, dict):
        raise PrecisionError(f"{shown}: scanner: must be a table of scanner serial tables")
    scanners: dict[str, MappingProxyType[str, float]] = {}
    for serial, table in scanner_tables.items():
        key = f'scanner."{serial}"'
        if serial.strip() == "":
            raise PrecisionError(f"{shown}: {key}: scanner serial must not be blank")
        scanners[serial] = _sites(table, key, shown)
    return PrecisionTable(path=shown, defaults=defaults, scanners=MappingProxyType(scanners))


def load_precision(path: Path | None = None) -> PrecisionTable:
    """Load and validate a precision file; None loads the shipped `config/precision.toml`."""
    target = DEFAULT_PRECISION_PATH if path is None else Path(path)
    shown = str(target)
    try:
        with target.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise PrecisionError(f"{shown}: no such precision file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PrecisionError(f"{shown}: not valid TOML: {exc}") from exc
    return _validate(data, shown)
