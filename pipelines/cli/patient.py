"""The `dxa patient ID` command (thin: parse, call the facade, print).

Registered on the main app by `pipelines.cli.commands`. Like `dxa export KIND`, it shows a
patient identifier and says so: the heading line carries the same "patient identifiers:
for authorised staff only" note the exports print.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from pipelines import app as application
from pipelines.cli.console import fail, out
from pipelines.cli.key_option import KeyFile
from pipelines.cli.options import ReaderDb
from pipelines.readers.reporting.render_text import section_table


class PatientFormat(StrEnum):
    table = "table"
    html = "html"


def patient_command(
    patient_id: Annotated[str, typer.Argument(metavar="ID",
                                              help="The patient's id as the registry holds it.")],
    db: ReaderDb,
    fmt: Annotated[PatientFormat, typer.Option(
        "--format", help="table (the screen) or html (a page with a chart per site; needs "
                         "--output).")] = PatientFormat.table,
    output: Annotated[Path | None, typer.Option(
        help="html: the page to write (created 0600: it holds patient data).")] = None,
    ruleset: Annotated[str | None, typer.Option(
        help="Ruleset ID or ID@VERSION of the decisions (default: the registry's primary).")
    ] = None,
    lock_timeout: Annotated[float, typer.Option(
        help="Seconds to wait while a run holds the registry.")] = application.READ_LOCK_TIMEOUT_S,
    key_file: KeyFile = None,
) -> None:
    """One patient's exams, decisions and BMD trend (patient identifiers: authorised staff
    only)."""
    if fmt is PatientFormat.html:
        if output is None:
            fail("--format html writes a page: give it a file with --output FILE")
        history = application.patient_page(db, patient_id, output, ruleset=ruleset,
                                           lock_timeout_s=lock_timeout)
        out.print(Text(f"wrote {output} ({history.exam_count} exams; patient identifiers: "
                       "for authorised staff only)"))
        return
    if output is not None:
        fail("--output writes the HTML page: add --format html")
    history = application.patient(db, patient_id, ruleset=ruleset, lock_timeout_s=lock_timeout)
    out.print(Text(history.heading))
    for section in history.sections():
        out.print(section_table(section))
        if section.note:
            out.print(Text(section.note))
