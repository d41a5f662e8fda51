"""What every source adapter hands to the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl

from schemas.reasons import QUARANTINE_SCHEMA, no_quarantine
from sources.read_csv import DEFAULT_BATCH_BYTES, RawTable
from transforms.parse import ParseOptions

#: Format names, as stored in `exams.source_format` and `source_files.source_format`.
CANONICAL_CSV = "canonical_csv"
HOLOGIC_APEX = "hologic_apex"
GE_LUNAR_DICOM = "ge_lunar_dicom"
NHANES = "nhanes"

#: Input rows an adapter could not map to an exam: quarantine rows (`schemas.reasons`).
REJECTED_SCHEMA = QUARANTINE_SCHEMA


def no_rejected_rows() -> pl.DataFrame:
    return no_quarantine()


@dataclass(frozen=True)
class ReadOptions:
    """What the operator told `dxa run` about the inputs (never guessed silently).

    `date_format` is `None` (ISO only), `"DMY"` (DD/MM/YYYY) or `"MDY"` (MM/DD/YYYY).
    `batch_bytes`: a CSV larger than this is processed in batches of about this size, so
    that memory stays bounded (tests set it small to exercise batching).
    """

    date_format: str | None = None
    batch_bytes: int = DEFAULT_BATCH_BYTES
    #: `--t-reference NAME`: recompute every T-score from BMD against this reference
    #: (the source's T-scores kept aside); None: only fill missing T-scores.
    t_reference: str | None = None


class LargeInput(Protocol):
    """An input whose rows come batch by batch (see `sources.canonical.LargeCsv`)."""

    verdicts: pl.DataFrame

    def batches(self) -> Iterator[RawTable]: ...


@dataclass
class SourceFile:
    """One input (a file, or an export folder) read into canonical text cells.

    `cells` holds the canonical columns the input provides, as text, plus `_row_number`
    and, for adapters, `_raw` (the row as read; a CSV's own cells serve as its raw row).
    A large CSV has no `cells` but `large`, which yields them batch by batch. `rejected`
    holds input rows the adapter could not map to an exam (they go
    to quarantine with the reason). `excluded` counts input units that are by design not
    exams (QC phantom scans, superseded analyses): reported, never silently dropped.
    `side_tables`: registry table -> rows keyed by `exam_id` that belong beside the
    exams (NHANES: `survey_design`); rows of exams that are not loaded are not written.
    """

    path: Path
    sha256: str
    source_format: str
    vendor: str | None
    cells: pl.DataFrame | None
    parse_options: ParseOptions = field(default_factory=ParseOptions)
    extra_columns: list[str] = field(default_factory=list)
    rejected: pl.DataFrame = field(default_factory=no_rejected_rows)
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    blank_rows: int = 0
    large: LargeInput | None = None
    side_tables: dict[str, pl.DataFrame] = field(default_factory=dict)


def fingerprint(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's files (names and contents, sorted).

    The registry skips an input whose fingerprint it has already loaded.
    """
    import hashlib

    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode())
            digest.update(hashlib.sha256(child.read_bytes()).digest())
        return digest.hexdigest()
    digest.update(path.read_bytes())
    return digest.hexdigest()
