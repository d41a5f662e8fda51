"""The report's sections as the page's tables, in people's words (`human`).

Codes read as labels, dates as `6 Dec 2026`; a one-row section (the latest run, the
registry's totals) reads as item/value lines. A section's note (the SQL behind a list)
is for analysts: the page shows it in its analysts' part (`analysts`), not here.
"""

from __future__ import annotations

import html

from pipelines.readers.reporting.human import cell, sentence_case
from pipelines.readers.reporting.model import Section, records


def _record_html(section: Section) -> str:
    rows = "".join(
        f'<tr><th scope="row">{html.escape(sentence_case(column.header))}</th>'
        f'<td class="{"num" if column.numeric else "text"}">'
        f"{html.escape(cell(column, value))}</td></tr>"
        for column, (_, value) in zip(section.columns, records(section), strict=True))
    return f'<table class="record"><tbody>{rows}</tbody></table>'


def _rows_html(section: Section) -> str:
    head = "".join(f'<th class="{"num" if c.numeric else "text"}">'
                   f"{html.escape(sentence_case(c.header))}</th>" for c in section.columns)
    rows = "".join(
        "<tr>" + "".join(
            f'<td class="{"num" if c.numeric else "text"}">{html.escape(cell(c, v))}</td>'
            for c, v in zip(section.columns, row, strict=True)) + "</tr>"
        for row in section.rows)
    if not section.rows:
        rows = f'<tr><td colspan="{len(section.columns)}" class="none">none</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def section_html(section: Section) -> str:
    """One section: its title and its table (item/value lines for a one-row section)."""
    table = _record_html(section) if section.record and section.rows else _rows_html(section)
    return (f'<h3 id="section-{html.escape(section.key)}">'
            f"{html.escape(sentence_case(section.title))}</h3>{table}")
