"""Another process holding a registry open for writing, as a running nightly job does.

A module of its own (like exam_rows) so that every test folder can import it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def write_lock_held(db: Path, key: str | None = None) -> Iterator[None]:
    """Hold DuckDB's write lock on `db` in a child process for the duration of the block
    (`key`: an encrypted registry, attached with its key)."""
    opening = (f"c = duckdb.connect({str(db)!r});" if key is None else
               f"from pipelines.registry.extensions import load; c = duckdb.connect();"
               f" load(c, 'httpfs'); c.execute(\"ATTACH {str(db)!r} AS r"
               f" (ENCRYPTION_KEY {key!r})\");")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; {opening}"
         " print('held', flush=True); time.sleep(900)"],  # killed when the block ends
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()
