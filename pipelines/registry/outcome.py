"""What a run did with each input, and its totals: the run summary's data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from schemas.vocabulary import FileAction, RunStatus

if TYPE_CHECKING:  # the report is built by the readers; the ledger only carries it
    from pipelines.readers.reporting.model import Report


class DescribedInput(Protocol):
    """What a prepared input says about itself (`pipelines.ingest.prepare.PreparedInput`)."""

    path: Path
    sha256: str | None
    source_format: str | None
    vendor: str | None
    extra_columns: list[str]
    excluded: dict[str, int]
    notes: list[str]
    error: str | None


@dataclass
class FileOutcome:
    """One input's fate in one run. rows_read = rows_loaded + rows_quarantined + rows_duplicate."""

    path: str
    status: FileAction
    source_format: str | None = None
    vendor: str | None = None
    sha256: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    assessments_added: int = 0
    resent_identical: int = 0  # of rows_duplicate: exams the registry already held, unchanged
    rejudged: int = 0  # exams judged before and judged again: this input changed their history
    error: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: where `dxa run --move-failed` moved this failed input, after the run recorded it
    moved_to: str | None = None

    @classmethod
    def for_input(cls, prepared: DescribedInput, status: FileAction) -> FileOutcome:
        """The one constructor: the outcome of `prepared`, before its rows are counted.

        A failed input keeps what identifies it and its reason; a skipped or re-assessed
        one also its vendor; a loaded one also its description (unknown columns, units
        that are not exams, notes), which the summary prints.
        """
        outcome = cls(path=str(prepared.path), status=status,
                      source_format=prepared.source_format, sha256=prepared.sha256)
        if status is FileAction.FAILED:
            outcome.error = prepared.error
            return outcome
        outcome.vendor = prepared.vendor
        if status is FileAction.LOADED:
            outcome.extra_columns = prepared.extra_columns
            outcome.excluded = prepared.excluded
            outcome.notes = list(prepared.notes)
        return outcome

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_duplicate


@dataclass
class RunSummary:
    """The totals of one run, with no patient identifiers (safe for screens and artifacts)."""

    run_id: str
    ruleset: str
    db_path: str
    status: RunStatus = RunStatus.RUNNING
    files: list[FileOutcome] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    treatments: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    message: str | None = None
    reporting_copy: str | None = None
    html_report: str | None = None
    #: seconds per stage (`pipelines.runtime.timing.Stage`), summed over the run's inputs
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: `dxa report` at the end of the run: counts only
    report: Report | None = None

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def files_failed(self) -> int:
        return sum(f.status == FileAction.FAILED for f in self.files)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"):
            data[key] = self.total(key)
        return data
