"""The report as JSON for machines: numbers as numbers, sections as objects with stable keys.

    {"report": "registry", "title": "...", "as_of": "2030-01-01",
     "sections": [{"section": "treatment", "title": "...", "note": null,
                   "columns": [{"name": "ruleset", "type": "text"}, ...],
                   "rows": [{"ruleset": "core-2025@2", "treatment": "consider",
                             "patients": 12}]}]}

Dates are ISO strings (`2030-01-01`), times ISO with seconds; a record section (the latest
run, the registry's totals) is a list of one row like any other. The shape is fixed by
`report.schema.json` beside this module, which the tests hold every report to.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources

from pipelines.readers.reporting.model import Report, Section, Value


def _json_value(value: Value) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def section_dict(section: Section) -> dict[str, object]:
    return {
        "section": section.key,
        "title": section.title,
        "note": section.note,
        "columns": [{"name": c.name, "type": str(c.kind)} for c in section.columns],
        "rows": [{k: _json_value(v) for k, v in row.items()} for row in section.as_dicts()],
    }


def report_dict(report: Report) -> dict[str, object]:
    """The report as plain JSON-ready data (what `dxa report --format json` prints)."""
    return {
        "report": report.kind,
        "title": report.title,
        "as_of": report.as_of.isoformat(),
        "sections": [section_dict(s) for s in report.sections],
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


@cache
def report_schema() -> dict:
    """The JSON Schema (draft 2020-12) every JSON report satisfies."""
    text = resources.files("pipelines.readers.reporting").joinpath("report.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)
