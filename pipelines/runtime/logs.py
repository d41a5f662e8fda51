"""Library log lines go to a private file, never to the screen.

A library's log record may carry a traceback that quotes data (a SQL statement, a
row) and it confuses a reader of a nightly log with noise after a correct, one-line
refusal (a `sqlalchemy.pool` traceback after a lock refusal; uvicorn tracebacks when
several first runs start Prefect's temporary server together). So `dxa` sends every
library's log records to a file only the current user can read (`dxa-log-*.log` in the
temporary folder, mode 0600, created at the first record), in its own process and in the
processes Prefect starts (the temporary API server inherits the environment set by
`pipelines.runtime.env`). `dxa run --verbose` keeps Prefect's lines on screen.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from typing import IO, Any

_lock = threading.Lock()
_stream: IO[str] | None = None
_path: str | None = None


def _private_stream() -> IO[str]:
    """This process's log file, created on first use with mode 0600 (mkstemp's)."""
    global _stream, _path
    with _lock:
        if _stream is None:
            fd, _path = tempfile.mkstemp(prefix="dxa-log-", suffix=".log")
            _stream = os.fdopen(fd, "a", encoding="utf-8")
        return _stream


def private_log_path() -> str | None:
    """The file this process logged to, or None when nothing was logged."""
    return _path


class PrivateFileHandler(logging.Handler):
    """Writes records to this process's private log file.

    Accepts and ignores the keyword arguments of the console handler it replaces in
    Prefect's logging configuration (`stream`, `styles`).
    """

    def __init__(self, level: int = logging.NOTSET, **_console_options: Any) -> None:  # noqa: ANN401
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = _private_stream()
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never break a run
            self.handleError(record)


#: Prefect's logging configuration, overridden through the environment
#: (`PREFECT_LOGGING_<path>`): its console handlers become the private file.
PREFECT_LOGGING_ENV = {
    "PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS": f"{__name__}.PrivateFileHandler",
    "PREFECT_LOGGING_HANDLERS_DEBUG_CLASS": f"{__name__}.PrivateFileHandler",
}


def _writes_to_screen(handler: logging.Handler) -> bool:
    if isinstance(handler, PrivateFileHandler | logging.FileHandler):
        return False
    if not isinstance(handler, logging.StreamHandler):
        return False  # Prefect's API handlers, pytest's capture, ...
    return type(handler) is logging.StreamHandler or type(handler).__module__.startswith(
        "prefect.logging"
    )


def route_library_logging() -> None:
    """Replace every handler that writes to the screen with the private file.

    Called once the libraries have configured their logging (Prefect does at import):
    the root logger and every named logger are visited; Python warnings are logged too.
    """
    private = PrivateFileHandler()
    private.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(), *(
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    )]
    for logger in loggers:
        screen = [h for h in logger.handlers if _writes_to_screen(h)]
        for handler in screen:
            logger.removeHandler(handler)
        if screen and not any(isinstance(h, PrivateFileHandler) for h in logger.handlers):
            logger.addHandler(private)
    root = logging.getLogger()
    if not any(isinstance(h, PrivateFileHandler) for h in root.handlers):
        root.addHandler(private)
    logging.captureWarnings(True)
