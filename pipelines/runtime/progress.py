"""A hook the CLI sets to show progress on a terminal; a no-op for scheduled runs.

Why a hook: the work (a flow's stages, a large file's batches, a registry-wide
re-assessment) runs deep inside Prefect, in this process but in its threads; it reports
what it is doing here and does not know whether anyone watches. The CLI sets the reporter
on a terminal only (never in logs, pipes or `--json`), so a scheduled run pays nothing.
The hook is process-global: one command runs one piece of work at a time.

What reaches it: a stage, a one-line detail (file names, counts), and for long work the
numbers done and to do (bytes of a staged file, exams judged). Never a data value and
never a patient or exam id: a terminal may be shared or recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    """What a counted update counts: the renderer shows bytes as sizes, the rest as counts."""

    BYTES = "bytes"
    EXAMS = "exams"


@dataclass(frozen=True)
class Update:
    """One report: a stage and its detail, and (long work) how far it has got.

    `completed` and `total` are given together, in `unit`; `subject` names the thing
    counted (a file, a ruleset), so that each gets its own bar while its updates arrive.
    """

    stage: str
    detail: str = ""
    completed: int | None = None
    total: int | None = None
    unit: Unit | None = None
    subject: str = ""

    @property
    def counted(self) -> bool:
        return self.completed is not None and self.total is not None

    @property
    def line(self) -> str:
        return f"{self.stage}: {self.detail}" if self.detail else self.stage


Reporter = Callable[[Update], None]

_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> None:
    global _reporter
    _reporter = reporter


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Report to `reporter` while the block runs (None: to nobody), then stop."""
    set_reporter(reporter)
    try:
        yield
    finally:
        set_reporter(None)


def report(stage: str, detail: str = "", *, completed: int | None = None,
           total: int | None = None, unit: Unit | None = None, subject: str = "") -> None:
    """Tell the reporter (if any) what the work is doing; counts only, no data values."""
    if _reporter is not None:
        _reporter(Update(stage, detail, completed, total, unit, subject))
