"""Ruleset provenance in the registry: which file content judged each exam.

A ruleset is known by `ID@VERSION` and its content. The first time a registry uses a
ruleset, the file's sha256 and text go into `rulesets`; every later use must bring the
same content. An edited file that keeps its id and version is refused before anything is
written (otherwise its verdicts would carry the shipped ruleset's name). The registry's
primary ruleset (`registry_settings.primary_ruleset`) is the first one it used, until
`dxa rulesets primary` changes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from pipelines.registry.store import query, transaction
from schemas.errors import ConfigError, RegistryError
from transforms.rules.ruleset import Ruleset

PRIMARY_KEY = "primary_ruleset"


class RulesetConflict(ConfigError):
    """The registry holds this `ID@VERSION` with other content; nothing was written."""


class UnknownRuleset(ConfigError):
    """The registry holds no ruleset of that `ID@VERSION`."""


@dataclass(frozen=True)
class RulesetSource:
    """A ruleset's file as read: its label, bytes' sha256 and text."""

    label: str
    sha256: str
    content: str
    path: str


def ruleset_file(ruleset: Ruleset) -> Path:
    """The file a ruleset was loaded from (a shipped id resolves in the package)."""
    shipped = Path(str(resources.files("rulesets"))) / f"{ruleset.id}.toml"
    if ruleset.path == f"rulesets/{ruleset.id}.toml" and shipped.is_file():
        return shipped
    return Path(ruleset.path)


def ruleset_source(ruleset: Ruleset) -> RulesetSource:
    data = ruleset_file(ruleset).read_bytes()
    return RulesetSource(ruleset.label, hashlib.sha256(data).hexdigest(),
                         data.decode("utf-8"), ruleset.path)


def check_ruleset(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> RulesetSource:
    """Refuse a ruleset whose id@version the registry holds with other content."""
    source = ruleset_source(ruleset)
    rows = con.execute("SELECT sha256, path FROM rulesets WHERE ruleset = ?",
                       [source.label]).fetchall()
    held = rows[0] if rows else None
    if held is not None and held[0] != source.sha256:
        raise RulesetConflict(
            f"ruleset {source.label} from {source.path} (sha256 {source.sha256[:12]}) differs"
            f" from the {source.label} this registry already holds (from {held[1]}, sha256"
            f" {held[0][:12]}); raise the version in {source.path} and run again"
        )
    return source


def record_ruleset(con: duckdb.DuckDBPyConnection, source: RulesetSource) -> None:
    """Hold the ruleset's content (first use only) and make it primary if none is.

    Call inside the run's transaction, after `check_ruleset`.
    """
    ensure_primary(con)
    now = dt.datetime.now()
    con.execute(
        "INSERT INTO rulesets (ruleset, sha256, content, path, first_used_at)"
        " SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM rulesets WHERE ruleset = ?)",
        [source.label, source.sha256, source.content, source.path, now, source.label],
    )
    con.execute(
        "INSERT INTO registry_settings (key, value, updated_at) SELECT ?, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM registry_settings WHERE key = ?)",
        [PRIMARY_KEY, source.label, now, PRIMARY_KEY],
    )


def ensure_primary(con: duckdb.DuckDBPyConnection) -> None:
    """A registry from before provenance: its latest completed run's ruleset is primary.

    Called before a run or re-assessment records its ruleset, so that a what-if run on
    such a registry does not become its primary ruleset by being the first recorded.
    """
    con.execute(
        "INSERT INTO registry_settings (key, value, updated_at)"
        " SELECT ?, ruleset, current_timestamp FROM runs WHERE status = 'completed'"
        " AND NOT EXISTS (SELECT 1 FROM registry_settings WHERE key = ?)"
        " ORDER BY started_at DESC LIMIT 1", [PRIMARY_KEY, PRIMARY_KEY])


def primary_ruleset(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("SELECT value FROM registry_settings WHERE key = ?",
                       [PRIMARY_KEY]).fetchall()
    return rows[0][0] if rows else None


def set_primary(con: duckdb.DuckDBPyConnection, label: str) -> None:
    """Make a ruleset the registry held already its primary one."""
    require_held(con, label)
    con.execute("DELETE FROM registry_settings WHERE key = ?", [PRIMARY_KEY])
    con.execute("INSERT INTO registry_settings (key, value, updated_at) VALUES (?, ?, ?)",
                [PRIMARY_KEY, label, dt.datetime.now()])


def require_held(con: duckdb.DuckDBPyConnection, label: str) -> None:
    held = [r[0] for r in con.execute("SELECT ruleset FROM rulesets ORDER BY 1").fetchall()]
    if label not in held:
        raise UnknownRuleset(f"this registry holds no ruleset {label}"
                             f" (it holds: {', '.join(held) or 'none'})")


def held_rulesets(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per ruleset the registry holds: content, exams assessed, first and last use.

    Rulesets used before provenance was recorded appear with a null sha256.
    """
    return query(con, """
        WITH used AS (
            SELECT a.ruleset, count(*) AS exams_assessed, max(r.started_at) AS last_used_at,
                   min(r.started_at) AS first_run_at
            FROM assessments a LEFT JOIN runs r USING (run_id) GROUP BY a.ruleset)
        SELECT coalesce(h.ruleset, u.ruleset) AS ruleset,
               split_part(coalesce(h.ruleset, u.ruleset), '@', 1) AS id,
               split_part(coalesce(h.ruleset, u.ruleset), '@', 2) AS version,
               h.sha256, coalesce(u.exams_assessed, 0) AS exams_assessed,
               coalesce(h.first_used_at, u.first_run_at) AS first_used_at,
               u.last_used_at,
               coalesce(h.ruleset, u.ruleset) = (SELECT value FROM registry_settings
                                                 WHERE key = 'primary_ruleset') AS "primary"
        FROM rulesets h FULL JOIN used u USING (ruleset)
        ORDER BY ruleset""")


def forget_ruleset(con: duckdb.DuckDBPyConnection, label: str) -> tuple[int, int]:
    """Remove a ruleset's assessments and flags (never exams); (assessments, flags) gone.

    Its `rulesets` and `rules` rows go too, so the id@version may be used again with
    other content. The primary ruleset cannot be forgotten (choose another first).
    """
    refuse_primary(con, label)
    with transaction(con):
        return forget_rows(con, label)


def refuse_primary(con: duckdb.DuckDBPyConnection, label: str) -> None:
    """The primary ruleset cannot be forgotten (its lists would be empty)."""
    if primary_ruleset(con) == label:
        raise RegistryError(f"{label} is this registry's primary ruleset; make another"
                            " primary first (dxa rulesets primary ID@VERSION)")


def forget_rows(con: duckdb.DuckDBPyConnection, label: str) -> tuple[int, int]:
    """Inside the caller's transaction: delete a ruleset's rows; (assessments, flags)."""
    gone = [con.execute(f"SELECT count(*) FROM {table} WHERE ruleset = ?",
                        [label]).fetchall()[0][0] for table in ("assessments", "flags")]
    for table in ("assessments", "flags", "rules", "rulesets"):
        con.execute(f"DELETE FROM {table} WHERE ruleset = ?", [label])
    return gone[0], gone[1]


class RulesetNotHeld(ConfigError):
    """The registry holds no assessments under the ruleset a reader asked for."""


def _version_key(version: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def assessed_rulesets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every `ID@VERSION` under which the registry holds assessments."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT ruleset FROM assessments ORDER BY 1").fetchall()]


def resolve_held(con: duckdb.DuckDBPyConnection, given: str,
                 error: type[Exception] = RulesetNotHeld) -> str:
    """The `ID@VERSION` a reader means by `given`: itself when the registry assessed
    exams under it; for a bare ID, the highest version of it the registry holds.

    The one rule for every reader (worklists, comparisons, extracts), so that the same
    name never means two rulesets in two commands. `error`: the reader's own error class.
    """
    held = assessed_rulesets(con)
    listed = ", ".join(held) or "none"
    if "@" in given:
        if given not in held:
            raise error(f"the registry holds no assessments under {given}; it holds: {listed}")
        return given
    versions = [label for label in held if label.split("@", 1)[0] == given]
    if not versions:
        raise error(f"the registry holds no assessments under ruleset {given!r}; "
                    f"it holds: {listed}")
    return max(versions, key=lambda label: _version_key(label.split("@", 1)[1]))
