"""The nightly HTML page beside the reporting copy, and the artifact's link to it.

Written after the reporting copy, from the run's own connection, under a temporary name
and renamed into place: a browser reloading the page never reads half of one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import duckdb

from pipelines.readers.reporting.model import Report
from pipelines.readers.reporting.render_html import html_report
from pipelines.runtime.messages import safe_reason
from pipelines.runtime.privacy import REPORTING_COPY_MODE, write_text_with_mode


def html_report_path(db_path: Path | str) -> Path:
    """`registry.duckdb` -> `registry.report.html`, beside the reporting copy."""
    db = Path(db_path)
    return db.with_name(f"{db.stem}.report.html")


def publish_html_report(db_path: Path | str, con: duckdb.DuckDBPyConnection,
                        day: dt.date, report: Report | None = None) -> Path:
    """Write the page for `day` beside the registry, atomically (`report`: that day's
    registry report when already collected)."""
    target = html_report_path(db_path)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        # created 0640, read like the reporting copy beside it
        write_text_with_mode(temporary, html_report(con, day, source=Path(db_path).name,
                                                    report=report), REPORTING_COPY_MODE)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def publish_html_page(db_path: Path | str, con: duckdb.DuckDBPyConnection,
                      logger: logging.Logger | logging.LoggerAdapter,
                      report: Report | None = None) -> str | None:
    """The nightly page's path, or None with a warning when it could not be written.

    `report`: the run's registry report, reused (its date is the page's date).

    The run's data is committed by then: a page that fails to render (a disk full, a
    chart bug) must not turn a completed load into a failed run.
    """
    try:
        day = dt.date.today() if report is None else report.as_of
        return str(publish_html_report(db_path, con, day, report))
    except Exception as exc:  # noqa: BLE001 - reported, the run stays completed
        logger.warning("the HTML report was not written: %s", safe_reason(exc))
        return None


def html_link(path: str | None) -> str:
    """A markdown line linking the page, for the Prefect artifact (nothing without one)."""
    if path is None:
        return ""
    page = Path(path).resolve()
    return f"\n[Quality report with charts: {page.name}]({page.as_uri()})\n"
