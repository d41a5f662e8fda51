"""`dxa report`: the latest run and the registry at a glance, in every report format.

Opened read-only, so it works on the reporting copy while the nightly run writes the
registry. The sections come from `pipelines.readers.reporting.registry` as one report model, which
the renderers turn into a table, CSV, JSON, markdown (the flow's Prefect artifact) or the
HTML page with charts. Counts only, never patient identifiers: the lists stay in the views.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
from rich.console import Console

from pipelines.readers.access import reading
from pipelines.readers.as_of import as_of_date
from pipelines.readers.reporting.formats import ReportFormat
from pipelines.readers.reporting.model import Report
from pipelines.readers.reporting.registry import registry_report
from pipelines.readers.reporting.render_json import to_json
from pipelines.readers.reporting.render_text import print_tables, to_csv, to_markdown
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S
from schemas.errors import RegistryError

T = TypeVar("T")


class ReportError(RegistryError):
    """The file is not a registry, or cannot be read (missing tables, a writer's lock...)."""


#: Seconds `dxa report` waits for a process holding the registry's write lock.
LOCK_TIMEOUT_S = READ_LOCK_TIMEOUT_S


def collect_report(con: duckdb.DuckDBPyConnection, day: dt.date) -> Report:
    """The report from an open connection (read-only is enough).

    Separate from opening the file so the flow can build the same report on its own
    connection for the Prefect artifact and the HTML page.
    """
    return registry_report(con, day)


def build_report(db: Path, as_of: str | None, *, lock_timeout_s: float | None = None) -> Report:
    """The report of the registry file `db` (or its reporting copy)."""
    return _with_registry(db, as_of, lock_timeout_s, collect_report)


def build_html_report(
    db: Path, as_of: str | None, *, lock_timeout_s: float | None = None
) -> str:
    """The self-contained HTML page (charts and the report's tables) of the registry `db`."""
    from pipelines.readers.reporting.render_html import html_report

    return _with_registry(db, as_of, lock_timeout_s,
                          lambda con, day: html_report(con, day, source=db.name))


def _with_registry(db: Path, as_of: str | None, lock_timeout_s: float | None,
                   make: Callable[[duckdb.DuckDBPyConnection, dt.date], T]) -> T:
    day = as_of_date(as_of, ReportError)
    timeout = LOCK_TIMEOUT_S if lock_timeout_s is None else lock_timeout_s
    with reading(db, timeout, ReportError) as con:
        try:
            return make(con, day)
        except duckdb.CatalogException:
            raise ReportError(f"{db} is not a DXA registry (tables missing)") from None


def render_report(report: Report, fmt: ReportFormat) -> str:
    """The report as text in `fmt`: tables (160 columns wide), csv, json or markdown."""
    if fmt is ReportFormat.TABLE:
        buffer = io.StringIO()
        print_tables(report, Console(file=buffer, width=160, no_color=True))
        return buffer.getvalue()
    if fmt is ReportFormat.JSON:
        return to_json(report)
    if fmt is ReportFormat.CSV:
        return to_csv(report)
    if fmt is ReportFormat.MARKDOWN:
        return to_markdown(report)
    raise ValueError(f"the {fmt} report is written by build_html_report")


def report_text(db: Path, as_of: str | None, fmt: ReportFormat, *,
                lock_timeout_s: float | None = None) -> str:
    """The report of the registry `db` as text in any format, the HTML page included."""
    if fmt is ReportFormat.HTML:
        return build_html_report(db, as_of, lock_timeout_s=lock_timeout_s)
    return render_report(build_report(db, as_of, lock_timeout_s=lock_timeout_s), fmt)
