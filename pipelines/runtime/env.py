"""Prefect settings that must be in the environment before Prefect is imported.

`dxa` runs Prefect in its local ephemeral mode (a temporary API server in a child process,
`pipelines.runtime.temporary_api`), so nobody has to start a server by hand; these defaults make
that start quiet and tolerant of a slow first start. Anything already set in the environment wins.

Two rules a site relies on:
- Prefect's analytics are off: the server's (`PREFECT_SERVER_ANALYTICS_ENABLED`) and the
  SDK's, whose first-run notice would otherwise be printed (`DO_NOT_TRACK`).
- Prefect's state lives in `PREFECT_HOME` when it is set, else in `~/.prefect` (Prefect's
  own default, so `dxa` and the `prefect` command read the same profile, e.g. the API URL
  saved with `prefect config set`). `dxa` never picks another home by itself.
- A home `dxa` creates is private (0700), and so is every file in it: Prefect's database
  holds each flow run's parameters (the registry's and the exports' paths). Prefect 3.9
  makes its home 0700 too; `dxa` does not rely on it. The files in it are made under the
  private umask (`pipelines.runtime.privacy`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.runtime.logs import PREFECT_LOGGING_ENV
from pipelines.runtime.privacy import private_folder

DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Prefect logs a failed task's exception text, which may quote data: off the screen.
    # dxa prints its own one-line reason instead (`pipelines.runtime.messages`);
    # --verbose shows all.
    "PREFECT_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}


def prefect_home() -> Path:
    """Where Prefect keeps its state for `dxa`: `PREFECT_HOME`, else `~/.prefect`."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def configure_prefect_env(verbose: bool = False) -> None:
    """Set the defaults above unless the caller's environment already chose.

    Unless `verbose`, Prefect's console log handlers write to the private log file
    (`pipelines.runtime.logs`), here and in the temporary API server (a child process that
    inherits them).
    """
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    home = prefect_home()
    os.environ["PREFECT_HOME"] = str(home)
    if home.parent.is_dir():  # a missing parent: Prefect's own error, as before
        private_folder(home)
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
        return
    for key, value in PREFECT_LOGGING_ENV.items():
        os.environ.setdefault(key, value)
