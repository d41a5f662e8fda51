"""Progress on a terminal: a status line for each stage, a bar for each long piece of work.

The work reports through `pipelines.runtime.progress`; this is the terminal's view of it.
Updates without numbers (a file prepared, an input loaded) replace the status line, as a
spinner did before. Updates with numbers (the bytes of a large file staged batch by batch,
the exams a re-assessment has judged) get a bar of their own, as users know them from
rich: the bar, the percentage, what is done of the total, and the time remaining; while a
bar moves, the status line is hidden (the bar says better what runs).

Updates arrive from Prefect's task threads: one lock keeps the bars consistent, and each
update redraws at once (they come per batch, a few per minute, never per row).
"""

from __future__ import annotations

import threading

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from pipelines.runtime.progress import Unit, Update


class CountColumn(ProgressColumn):
    """What is done of the total: `12.3/45.6 MB` for bytes, `1,200/5,000 exams` else."""

    def render(self, task: Task) -> Text:
        done, total = int(task.completed), int(task.total or 0)
        unit = task.fields.get("unit")
        if unit == Unit.BYTES:
            return Text(f"{decimal(done)}/{decimal(total)}", style="progress.download")
        return Text(f"{done:,}/{total:,} {unit or ''}".rstrip(), style="progress.download")


class CountedOnly(ProgressColumn):
    """A column drawn for counted work only: the status line has no bar, no percentage."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self.column = column

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return self.column.render(task)  # type: ignore[return-value]


def _columns() -> tuple[ProgressColumn, ...]:
    return (
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        CountedOnly(BarColumn()),
        CountedOnly(TaskProgressColumn()),
        CountedOnly(CountColumn()),
        CountedOnly(TimeRemainingColumn()),
    )


class ProgressBars:
    """The reporter a command sets on a terminal: call it with each update.

    Start and stop it around the work (`with ProgressBars(console, first):`); the display
    is transient, so the closing summary is printed on a clean screen.
    """

    def __init__(self, console: Console, first: str) -> None:
        self.progress = Progress(*_columns(), console=console, transient=True,
                                 refresh_per_second=8)
        self._status = self.progress.add_task(first, total=None)
        self._bars: dict[tuple[str, str], TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, update: Update) -> None:
        with self._lock:
            # the status line says what runs when no bar does (a bar says it better)
            self.progress.update(self._status, visible=not update.counted)
            if not update.counted:
                self.progress.update(self._status, description=update.line)
            else:
                self._bar(update)
            self.progress.refresh()

    def _bar(self, update: Update) -> None:
        key = (update.stage, update.subject)
        task = self._bars.get(key)
        if task is None:
            self._bars[key] = self.progress.add_task(
                update.line, total=update.total, completed=update.completed or 0,
                unit=update.unit)
            return
        self.progress.update(task, description=update.line, completed=update.completed,
                             total=update.total)
