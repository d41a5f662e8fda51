"""The canonical exam CSV of the registry contract (§1)."""

from __future__ import annotations

from pathlib import Path

from sources.base import CANONICAL_CSV, ReadOptions, SourceFile
from transforms.read_csv import read_canonical_csv, sha256_of


def sniff(path: Path) -> str | None:
    """None when `path` looks like a canonical CSV, else why it does not."""
    if not path.is_file():
        return "not a file"
    if path.suffix.lower() not in (".csv", ".txt"):
        return f"file name does not end in .csv ({path.suffix or 'no suffix'})"
    return None


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read a canonical CSV (UTF-8, comma, ISO dates) into text cells."""
    data, table = read_canonical_csv(path)
    return SourceFile(
        path=path,
        sha256=sha256_of(data),
        source_format=CANONICAL_CSV,
        vendor=None,
        cells=table.cells,
        extra_columns=table.extra_columns,
    )
