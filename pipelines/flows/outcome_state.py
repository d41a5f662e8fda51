"""The registry flow's final Prefect state: Failed when `dxa run` would exit 2.

Why: on the Prefect server route nobody reads an exit code. A night whose inputs failed
as a whole (or that found no export at all) used to end `Completed`, and nothing in
Prefect would alert. Such a run now ends `Failed`, with a message naming the failed inputs
by file name and their count (never a data value), so that an automation on
`dxa-registry-nightly` entering `Failed` alerts an operator (README: Scheduling). The
registry keeps what loaded, as before: its `runs` row says `completed`.

The state's data is an `InputsFailed` error carrying the run's summary: Prefect resolves a
Failed state's data into the error that calling the flow raises (it must be an
exception), and `dxa run` takes the summary out of it to print and exit 2.
"""

from __future__ import annotations

from pathlib import Path

from prefect.states import Failed, State

from pipelines.registry.outcome import RunSummary
from schemas.errors import DxaError
from schemas.vocabulary import FileAction

#: At most this many failed inputs are named in the message; the count covers them all.
NAMED_AT_MOST = 10

#: What the registry flow returns: its summary (Completed) or a Failed state holding it.
FlowOutcome = RunSummary | State


class InputsFailed(DxaError):
    """The run completed, but inputs failed as a whole or none was found (exit code 2).

    Raised by a direct call of the flow; `summary` is the run's summary. Its message
    names files and counts only.
    """

    def __init__(self, message: str, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


def failure_message(summary: RunSummary, paths: list[str]) -> str | None:
    """Why the run should alert (file names and counts only), or None when it should not."""
    if not summary.files:
        return f"no exports found in {', '.join(paths)}"
    failed = [Path(f.path).name for f in summary.files if f.status == FileAction.FAILED]
    if not failed:
        return None
    named = ", ".join(failed[:NAMED_AT_MOST])
    if len(failed) > NAMED_AT_MOST:
        named += f" and {len(failed) - NAMED_AT_MOST} more"
    return f"{len(failed)} of {len(summary.files)} inputs failed: {named} (run {summary.run_id})"


def final_state(summary: RunSummary, paths: list[str]) -> FlowOutcome:
    """What the flow returns: its summary (Completed), or a Failed state holding it."""
    message = failure_message(summary, paths)
    if message is None:
        return summary
    return Failed(message=message, data=InputsFailed(message, summary))


def summary_of(state: State) -> RunSummary:
    """The run's summary from the flow run's final state, Failed for inputs or not.

    A flow that raised (the registry locked, a full disk) raises that error again here,
    as calling the flow would have.
    """
    if state.is_failed():
        error = state.result(raise_on_failure=False)
        if isinstance(error, InputsFailed) and error.summary is not None:
            return error.summary
    return state.result()
