"""Text renderers of a report: a rich table for people, CSV for spreadsheets, markdown for
the Prefect artifact. They write rows in the model's order and never reorder them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.readers.reporting.model import Report, Section, Value, records
from pipelines.readers.spreadsheet_cells import neutralise


def plain(value: Value) -> str:
    """A value for CSV: full precision, ISO dates and times, booleans true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def display(value: Value) -> str:
    """A value as people read it: booleans yes/no, times to the second, floats to four
    significant digits; otherwise as in CSV (`plain`: blank, ISO dates, numbers)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float):
        return f"{value:.4g}"
    return plain(value)


def section_table(section: Section) -> Table:
    """One section as a rich table (item/value lines for a record section).

    Every title, header and cell is a `Text`, which rich never reads as markup: a file
    named `exams [draft] v2.csv` prints as written on any console, markup on or off.
    """
    table = Table(title=Text(section.title, style="table.title"), title_justify="left")
    if section.record:
        table.show_header = False
        table.add_column("")
        table.add_column("", justify="right")
        for header, value in records(section):
            table.add_row(Text(header), Text(display(value)))
        return table
    for column in section.columns:
        table.add_column(Text(column.header), justify="right" if column.numeric else "left")
    for row in section.rows:
        table.add_row(*(Text(display(v)) for v in row))
    return table


def print_tables(report: Report, console: Console, *, skip_empty: bool = False) -> None:
    """Every section as a table; `skip_empty` leaves out sections without rows."""
    for section in report.sections:
        if skip_empty and not section.rows:
            continue
        console.print(section_table(section))
        if section.note:
            console.print(section.note, markup=False, highlight=False)


def to_csv(report: Report) -> str:
    """One CSV for the whole report: a `section` column, then the union of every section's
    columns in first-seen order (blank where a section has no such column).

    One header for all sections, so a spreadsheet or `read_csv` takes the file whole and
    filters on `section`; each column keeps one meaning (and one type) across sections.
    Cells are neutralised for spreadsheets (`spreadsheet_cells`): a text cell that would
    start a formula (a file name, a ruleset label, ...) gets a leading `'`.
    """
    names: list[str] = []
    for section in report.sections:
        names += [c.name for c in section.columns if c.name not in names]
    header = ["section", *names]
    cells = pl.DataFrame(
        [[section.key, *(plain(row.get(n)) for n in names)]
         for section in report.sections for row in section.as_dicts()],
        schema=dict.fromkeys(header, pl.String), orient="row",
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(neutralise(cells).rows())
    return buffer.getvalue()


def _md_cell(value: str) -> str:
    """A markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(value.split()).replace("|", "\\|")


def section_markdown(section: Section, heading: str = "###") -> list[str]:
    lines = [f"{heading} {_md_cell(section.title)}", ""]
    if section.record:
        lines += ["| item | value |", "|---|---:|"]
        lines += [f"| {_md_cell(h)} | {_md_cell(display(v))} |" for h, v in records(section)]
    else:
        lines += ["| " + " | ".join(_md_cell(c.header) for c in section.columns) + " |",
                  "|" + "".join("---:|" if c.numeric else "---|" for c in section.columns)]
        lines += ["| " + " | ".join(_md_cell(display(v)) for v in row) + " |"
                  for row in section.rows]
        if not section.rows:
            lines.append("| " + " | ".join("-" for _ in section.columns) + " |")
    if section.note:
        lines += ["", f"_{_md_cell(section.note)}_"]
    return lines


def to_markdown(report: Report, *, heading: str = "##", skip_empty: bool = False) -> str:
    """The report as markdown (e.g. for the flow's Prefect artifact): counts only."""
    lines = [f"{heading} {report.title} (as of {report.as_of.isoformat()})"]
    for section in report.sections:
        if skip_empty and not section.rows:
            continue
        lines += ["", *section_markdown(section, heading + "#")]
    return "\n".join(lines) + "\n"
