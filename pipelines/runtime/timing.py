"""The pipeline's own stage timings: wall-clock seconds per named stage.

The stages time themselves (`StageTimer.stage`), so the figures come with every run (in
the run summary and `runs.stage_seconds`) and the benchmark reads them instead of
wrapping the pipeline's functions from outside, where a rename would silently read 0 s.
Seconds of the same stage add up: over a large file's batches, and over the inputs of
a run (prepared side by side, so the prepare stages can add up to more than the run's
wall time).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum


class Stage(StrEnum):
    """The stages a run times (the keys of `runs.stage_seconds`)."""

    READ = "read"  # decode and split the input into text cells (adapters)
    VALIDATE = "parse_validate"  # parse cells, pandera checks, quarantine split
    OVERLAP = "registry_overlap"  # exam ids the registry already holds
    DECIDE = "decide"  # the ruleset's rules
    HISTORY = "history_query"  # earlier exams of the batch's patients
    SERIAL = "serial"  # BMD changes against prior exams
    INSERT = "insert"  # writing the frames (and replacing re-judged verdicts)
    STAGED_MOVE = "staged_move"  # a large file's staged rows into the registry
    COMMIT = "commit"  # the file's transaction made durable
    LEDGER = "ledger"  # runs, source_files, run_files rows
    REPORT = "report"  # the run's counts and the report rows
    PUBLISH = "publish"  # the reporting copy


class StageTimer:
    """Seconds per stage, summed over every time the stage ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: Stage) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[str(name)] = self.seconds.get(str(name), 0.0) + seconds

    def merge(self, other: Mapping[str, float]) -> None:
        for name, seconds in other.items():
            self.add(name, seconds)

