"""Test helper: a precision file written from TOML text (the precision and serial tests)."""

from __future__ import annotations

from pathlib import Path


def write_precision(folder: Path, text: str) -> Path:
    """`folder/precision.toml` holding `text`."""
    path = folder / "precision.toml"
    path.write_text(text, encoding="utf-8")
    return path
