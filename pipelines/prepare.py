"""Read and validate one input: the per-file compute stage (no database access)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from sources.base import ReadOptions, fingerprint
from sources.detect import Input, read_input
from transforms.errors import FileProblem
from transforms.exam_frame import validate_cells
from transforms.quarantine import SchemaProblem


@dataclass
class PreparedInput:
    """One input after validation: valid exams and quarantine rows, or the file's failure."""

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


def _safe_fingerprint(path: Path) -> str | None:
    try:
        return fingerprint(path) if path.exists() else None
    except OSError:
        return None


def prepare_input(item: Input, options: ReadOptions | None = None) -> PreparedInput:
    """Read, parse and validate one input. File-level problems become `error`, not raises.

    OSError (a flaky share, a file still being copied) is raised so that the Prefect task
    can retry it; every other problem fails this input alone.
    """
    try:
        source = read_input(item, options)
        split = validate_cells(source.cells, source.parse_options)
    except FileProblem as exc:
        return PreparedInput(
            path=item.path,
            sha256=_safe_fingerprint(item.path),
            source_format=item.source_format,
            error=str(exc),
        )
    except SchemaProblem as exc:
        return PreparedInput(
            path=item.path,
            sha256=_safe_fingerprint(item.path),
            source_format=item.source_format,
            error=f"adapter produced an invalid frame: {exc}",
        )
    quarantine = pl.concat([source.rejected, split.quarantine], how="vertical_relaxed")
    return PreparedInput(
        path=item.path,
        sha256=source.sha256,
        source_format=source.source_format,
        vendor=source.vendor,
        valid=split.valid,
        quarantine=quarantine,
        rows_read=source.rows_read,
        rows_duplicate=split.rows_duplicate,
        extra_columns=source.extra_columns,
        excluded=source.excluded,
        notes=source.notes,
    )
