"""After a run's load: its counts, its report, the reporting copy and the page beside it.

The report and the page count patients by each patient's latest exam, worked out once
(`latest_exams`); the reporting copy is published from the run's own writer, whose lock
keeps the registry still while it is copied. A page that fails to render leaves the run
completed (the data is committed): it is said in the log, not raised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from pipelines.readers.report import collect_report
from pipelines.readers.reporting.latest import latest_exams
from pipelines.readers.reporting.publish_html import publish_html_page
from pipelines.readers.summary import collect_run_counts
from pipelines.registry.interface import RegistryWriter
from pipelines.registry.outcome import RunSummary
from pipelines.runtime.timing import Stage, StageTimer


def publish_run(writer: RegistryWriter, summary: RunSummary, timer: StageTimer,
                logger: logging.Logger | logging.LoggerAdapter) -> None:
    """Fill the summary's counts and report; publish the reporting copy and the page."""
    con = writer.reading()
    today = dt.date.today()
    with contextlib.ExitStack() as latest:
        with timer.stage(Stage.REPORT):
            latest.enter_context(latest_exams(con, today))
            collect_run_counts(con, summary)
            summary.report = collect_report(con, today)
        with timer.stage(Stage.PUBLISH):
            summary.reporting_copy = str(writer.publish_reporting_copy())
            summary.html_report = publish_html_page(writer.location, con, logger,
                                                    summary.report)
