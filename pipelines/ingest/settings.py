"""Everything a run is told, resolved once: ruleset, precision study, T-score reference,
read options, waits.

The CLI checks a request before Prefect starts (a typo in a ruleset name fails in a
second, not after the flow's API is up), and the flow needs the same objects: both call
`resolve_settings`, which loads and validates each file once per process and hands back
the same frozen `RunSettings`. The stages receive it; none of them loads a file again.
(`dxa serve` runs each flow run in a fresh process, so an edited file is read anew.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.ingest.decide import Decider, decider_for, resolve_ruleset
from sources.base import ReadOptions
from transforms.precision import PrecisionTable, load_precision
from transforms.rules.ruleset import Ruleset
from transforms.tscore import TScorePolicy, t_score_policy

DEFAULT_RULESET = "core-2025"
DEFAULT_LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunSettings:
    """A run's validated configuration (no data, nothing secret: safe to log)."""

    ruleset: Ruleset
    precision: PrecisionTable
    read: ReadOptions
    #: the T-score reference that fills (or, with `--t-reference`, recomputes) T-scores:
    #: loaded here once, sent with the settings to every prepare task (picklable)
    tscores: TScorePolicy
    fmt: str = "auto"
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S

    @property
    def ruleset_label(self) -> str:
        """`ID@VERSION`, as stored in `runs.ruleset` and `assessments.ruleset`."""
        return self.ruleset.label

    @property
    def decide(self) -> Decider:
        return decider_for(self.ruleset)


@cache
def resolve_settings(
    ruleset: str = DEFAULT_RULESET,
    precision: str | None = None,
    fmt: str = "auto",
    date_format: str | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    t_reference: str | None = None,
) -> RunSettings:
    """Load and validate the run's files; a bad one raises a ConfigError naming it.

    `t_reference` (a T-score reference by name or path; none: the default reference
    fills missing T-scores) is loaded here, once, into `tscores`.
    """
    return RunSettings(
        ruleset=resolve_ruleset(ruleset),
        precision=load_precision(Path(precision) if precision else None),
        read=ReadOptions(date_format=date_format, t_reference=t_reference),
        tscores=t_score_policy(t_reference or None),
        fmt=fmt,
        lock_timeout_s=lock_timeout_s,
    )
