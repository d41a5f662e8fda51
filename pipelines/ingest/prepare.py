"""Read and validate one input: the per-file compute stage (no database access)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.runtime.timing import Stage, StageTimer
from schemas.errors import FileProblem
from sources.base import LargeInput, ReadOptions, fingerprint
from sources.detect import Input, read_input
from sources.read_csv import BatchPosition
from transforms.exam_frame import validate_cells
from transforms.parse import ParseOptions
from transforms.quarantine import SchemaProblem, Split, raw_rows_of
from transforms.tscore import TScorePolicy, t_score_policy


@dataclass(frozen=True)
class RawSource:
    """Where a validated input's text can be read again: the raw row of an exam refused
    at load (its id is in the registry with other content) is quarantined as read.

    A prepared input does not hold its text cells until the load: as string views they
    take about 0.7 GB per million exams, for the rare exam refused there. The file is
    read again instead, and only then; its fingerprint must not have changed.
    """

    item: Input
    options: ReadOptions
    sha256: str | None

    def cells(self) -> pl.DataFrame:
        source = read_input(self.item, self.options)
        if source.sha256 != self.sha256 or source.cells is None:
            raise FileProblem("the file changed while it was being loaded; run it again")
        return source.cells


@dataclass
class Batch:
    """Validated rows of one input, or of one batch of a large one, ready to load.

    `rows_read` = valid + quarantined + duplicate rows of this batch; `split` keeps the
    text the valid rows came from (or `raw_source` says where to read it again), for the
    raw row of an exam refused at load. `position`: a large file's batch, where it sits
    in the file (its number and bytes, for progress).
    """

    valid: pl.DataFrame
    quarantine: pl.DataFrame
    rows_read: int
    rows_duplicate: int
    split: Split
    blank_rows: int = 0  # of a large file's batch (a small file's are in its notes)
    raw_source: RawSource | None = None
    position: BatchPosition | None = None

    def raw_of(self, row_numbers: pl.Series) -> pl.DataFrame:
        """(row_number, raw) of the given valid rows, as read from the file."""
        if self.split.cells is None and self.raw_source is not None and row_numbers.len():
            return raw_rows_of(self.raw_source.cells(), row_numbers)
        return self.split.raw_of(row_numbers)


@dataclass
class PreparedInput:
    """One input after validation: valid exams and quarantine rows, or the file's failure.

    A large CSV is not validated here: `large` yields its batches to the load stage,
    which validates and loads them one at a time (bounded memory). `valid`, `quarantine`,
    `rows_read` and `rows_duplicate` describe the whole input when it was validated here.
    """

    path: Path
    sha256: str | None
    source_format: str | None
    vendor: str | None = None
    valid: pl.DataFrame | None = None
    quarantine: pl.DataFrame | None = None
    rows_read: int = 0
    rows_duplicate: int = 0
    extra_columns: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    split: Split | None = None
    large: LargeInput | None = None
    parse_options: ParseOptions | None = None
    tscores: TScorePolicy | None = None
    side_tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: seconds of reading and validating here (a large file's batches: at load)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: where the text of a validated input is read again (see RawSource)
    raw_source: RawSource | None = None

    def batches(self, timer: StageTimer | None = None) -> Iterator[Batch]:
        """The input's validated rows, in one batch or (large files) several.

        A problem found while reading a later batch of a large file raises FileProblem;
        the load stage then rolls the whole file back and records it as failed. `timer`
        counts a large file's reading and validation, which happen here.
        """
        if self.large is None:
            assert self.valid is not None and self.quarantine is not None
            assert self.split is not None
            yield Batch(self.valid, self.quarantine, self.rows_read, self.rows_duplicate,
                        self.split, raw_source=self.raw_source)
            return
        timer = StageTimer() if timer is None else timer
        tables = self.large.batches()
        while True:
            with timer.stage(Stage.READ):
                table = next(tables, None)
            if table is None:
                return
            with timer.stage(Stage.VALIDATE):
                split = _validate(table.cells, self.parse_options, self.large.verdicts,
                                  self.tscores)
            yield Batch(split.valid, split.quarantine, table.rows_read, split.rows_duplicate,
                        split, table.blank_rows, position=table.position)


def _validate(
    cells: pl.DataFrame,
    options: ParseOptions | None,
    verdicts: pl.DataFrame | None = None,
    tscores: TScorePolicy | None = None,
) -> Split:
    try:
        return validate_cells(cells, options, verdicts, tscores)
    except SchemaProblem as exc:
        raise FileProblem(f"adapter produced an invalid frame: {exc}") from None


def _safe_fingerprint(path: Path) -> str | None:
    try:
        return fingerprint(path) if path.exists() else None
    except OSError:
        return None


def failed_input(item: Input, message: str) -> PreparedInput:
    """An input that cannot be ingested: recorded as failed with `message`, nothing else."""
    return PreparedInput(
        path=item.path,
        sha256=_safe_fingerprint(item.path),
        source_format=item.source_format,
        error=message,
    )


def prepare_input(
    item: Input, options: ReadOptions | None = None, tscores: TScorePolicy | None = None
) -> PreparedInput:
    """Read, parse and validate one input. File-level problems become `error`, not raises.

    `tscores` is the run's T-score reference, loaded once with its settings
    (`RunSettings.tscores`); without it (a stage called on its own) the reference that
    `options.t_reference` names is loaded here.

    OSError (a flaky share, a file still being copied) is raised so that the Prefect task
    can retry it; every other problem fails this input alone.
    """
    options = options or ReadOptions()
    tscores = tscores or t_score_policy(options.t_reference)
    timer = StageTimer()
    try:
        with timer.stage(Stage.READ):
            source = read_input(item, options)
        with timer.stage(Stage.VALIDATE):
            split = None if source.cells is None else _validate(
                source.cells, source.parse_options, tscores=tscores
            )
    except FileProblem as exc:
        return failed_input(item, str(exc))
    notes = list(source.notes)
    if source.blank_rows:
        notes.append(f"{source.blank_rows} blank rows ignored")
    prepared = PreparedInput(
        path=item.path,
        sha256=source.sha256,
        source_format=source.source_format,
        vendor=source.vendor,
        extra_columns=source.extra_columns,
        excluded=source.excluded,
        notes=notes,
        large=source.large,
        parse_options=source.parse_options,
        tscores=tscores,
        side_tables=source.side_tables,
        stage_seconds=timer.seconds,
    )
    if split is not None:
        assert source.cells is not None
        # the text cells are let go here (see RawSource): read again if ever needed
        split.cells = None
        prepared.raw_source = RawSource(item, options, source.sha256)
        prepared.split = split
        prepared.valid = split.valid
        prepared.quarantine = pl.concat([source.rejected, split.quarantine],
                                        how="vertical_relaxed")
        prepared.rows_read = source.cells.height + source.rejected.height
        prepared.rows_duplicate = split.rows_duplicate
    return prepared
