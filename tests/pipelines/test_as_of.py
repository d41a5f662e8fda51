"""`--as-of`: one parser for the report and the lists, each raising its own error."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.readers.as_of import as_of_date
from pipelines.readers.report import ReportError
from pipelines.readers.worklists import WorklistError


@pytest.mark.parametrize("error", [ReportError, WorklistError])
def test_a_day_that_is_none_names_what_was_given(error: type[Exception]) -> None:
    with pytest.raises(error, match=r"--as-of must be a date YYYY-MM-DD, got '2024-02-30'"):
        as_of_date("2024-02-30", error)


def test_the_day_given_or_today() -> None:
    assert as_of_date("2024-02-29", ReportError) == dt.date(2024, 2, 29)
    assert as_of_date(None, ReportError) == dt.date.today()
