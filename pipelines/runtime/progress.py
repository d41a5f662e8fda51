"""A hook the CLI sets to show progress on a terminal; a no-op for scheduled runs."""

from __future__ import annotations

from collections.abc import Callable

Reporter = Callable[[str, str], None]  # (stage, detail without patient data)

_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> None:
    global _reporter
    _reporter = reporter


def report(stage: str, detail: str = "") -> None:
    if _reporter is not None:
        _reporter(stage, detail)
