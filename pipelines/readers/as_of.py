"""`--as-of DATE`: the day a report or a list is computed for (default: today)."""

from __future__ import annotations

import datetime as dt

from schemas.errors import DxaError


def as_of_date(as_of: str | None, error: type[DxaError]) -> dt.date:
    """The --as-of date (default today); a date that is none raises `error`, the
    command's own error that its CLI prints in one line."""
    try:
        return dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise error(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}") from None

