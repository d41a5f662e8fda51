"""The formats `dxa report --format` accepts (a light module: the CLI imports it at start)."""

from __future__ import annotations

from enum import StrEnum


class ReportFormat(StrEnum):
    """A table for people, CSV and JSON for machines, markdown, or the HTML page with charts."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
