"""The PostgreSQL side of a DuckLake registry: is there a lake, and the writers' locks.

Why PostgreSQL advisory locks: several sites load into one lake at night. DuckLake takes
concurrent commits, but two appends never conflict, so two sites sending the same exam
id would both insert it; the registry's rule (one row per exam id, a conflicting resend
quarantined) needs the check and the insert to see each other. A writer therefore takes
the lake's write lock (`pg_advisory_xact_lock`) before it starts a transaction and
releases it after its commit; its snapshot is taken inside the lock, so it sees every
earlier commit. Readers take no lock: they read committed snapshots. The lock belongs to
a PostgreSQL transaction of its own (a DuckDB cursor of a small side connection), so a
writer killed with -9 loses its connection and the lock with it.

Each run also holds a lock named after its run id while its writer is open, so that a
run found `running` in the ledger is known dead (interrupted) only when nobody holds it:
another site's live run is never closed by mistake.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.registry import extensions
from pipelines.registry.lake_address import LakeAddress
from pipelines.registry.store import RegistryLocked, RegistryUnavailable, sql_string

#: First key of every advisory lock dxa takes (the second names what is locked).
LOCK_SPACE = 0x4458  # "DX"
#: Second key of the lake's write lock; runs use hashtext of their id.
WRITE_LOCK = 1
CATALOG = "catalog"


class LakeCatalog:
    """A side connection to the catalog's PostgreSQL database (locks and probes only)."""

    def __init__(self, address: LakeAddress) -> None:
        self.address = address
        self.con = duckdb.connect(":memory:")
        try:
            extensions.load(self.con, "postgres")
            self.con.execute(
                f"ATTACH {sql_string(address.conninfo)} AS {CATALOG} (TYPE postgres)")
        except duckdb.Error as exc:
            self.con.close()
            raise RegistryUnavailable(
                f"--db {address.shown()}: cannot reach the catalog's PostgreSQL database: "
                f"{str(exc).splitlines()[0]}") from None
        self._run_lock: duckdb.DuckDBPyConnection | None = None
        self._runs_held: set[str] = set()

    def close(self) -> None:
        if self._run_lock is not None:
            self._run_lock.close()
        self.con.close()

    def _ask(self, con: duckdb.DuckDBPyConnection, sql: str) -> object:
        quoted = sql.replace("'", "''")
        return con.execute(f"SELECT * FROM postgres_query('{CATALOG}', '{quoted}')"
                           ).fetchall()[0][0]

    def has_lake(self) -> bool:
        """Whether the database holds a DuckLake catalog (its metadata table)."""
        return bool(self._ask(self.con, "SELECT to_regclass('ducklake_metadata') IS NOT NULL"))

    @contextmanager
    def write_lock(self, timeout_s: float) -> Iterator[None]:
        """Hold the lake's write lock for the block, waiting up to `timeout_s` for it."""
        cursor = self.con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            self._wait(cursor, f"{LOCK_SPACE}, {WRITE_LOCK}", timeout_s)
            yield
        finally:
            cursor.execute("ROLLBACK")  # ends the PostgreSQL transaction: lock released
            cursor.close()

    def _wait(self, cursor: duckdb.DuckDBPyConnection, key: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while not self._ask(cursor, f"SELECT pg_try_advisory_xact_lock({key})"):
            if time.monotonic() >= deadline:
                raise RegistryLocked(
                    f"registry {self.address.shown()} is locked by another process (another"
                    f" site's load); waited {timeout_s:g} s, wrote nothing")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def hold_run(self, run_id: str) -> None:
        """Hold the lock of a live run until the catalog connection closes."""
        if self._run_lock is None:
            self._run_lock = self.con.cursor()
            self._run_lock.execute("BEGIN TRANSACTION")
        self._wait(self._run_lock, f"{LOCK_SPACE}, hashtext({_pg_text(run_id)})", 5.0)
        self._runs_held.add(run_id)

    def run_alive(self, run_id: str) -> bool:
        """Whether some writer holds the run's lock (its process is alive)."""
        if run_id in self._runs_held:
            return True
        probe = self.con.cursor()
        try:
            probe.execute("BEGIN TRANSACTION")
            got = self._ask(probe, "SELECT pg_try_advisory_xact_lock("
                            f"{LOCK_SPACE}, hashtext({_pg_text(run_id)}))")
            return not got
        finally:
            probe.execute("ROLLBACK")
            probe.close()


def _pg_text(text: str) -> str:
    """A PostgreSQL string literal (the query travels inside postgres_query's literal)."""
    return "'" + text.replace("'", "''") + "'"
