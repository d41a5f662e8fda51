"""The fixed words the registry stores in its status and severity columns.

`StrEnum`s, so a typo is an AttributeError where it is written rather than a row nobody
matches; each member is its own text, so it goes into polars, DuckDB and JSON unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """`runs.status`: a run is `running` until it ends `completed` or `failed`.

    `interrupted`: the run's process died (killed, power cut) before it could record its
    end; the next run that opens the registry for writing says so.
    """

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class FileStatus(StrEnum):
    """`source_files.status`: what became of an input's content (one row per sha256)."""

    LOADED = "loaded"
    FAILED = "failed"


class FileAction(StrEnum):
    """`run_files.status`: what one run did with one input."""

    LOADED = "loaded"  # new content, written to the registry
    SKIPPED = "skipped"  # content already loaded, nothing to add
    ASSESSED = "assessed"  # content already loaded; this ruleset's assessments added
    FAILED = "failed"  # the input failed as a whole (named, with its reason)


class Severity(StrEnum):
    """`flags.severity`."""

    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
