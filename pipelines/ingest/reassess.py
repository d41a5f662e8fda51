"""Judge the exams already in the registry under a ruleset, without the original files.

Why: a registry changes rulesets when guidelines change, and an analyst asks "what if"
(`--into` a scratch copy). The exams are read back in batches of `batch_size` (a 10M-exam
registry never sits in memory whole), decided with the same decider as `dxa run`, and all
the batches commit in one transaction: all or nothing. Exams this ruleset already judged
are left as they are, so re-assessing is idempotent.

Serial verdicts (`bmd_changes`, loss flags) compare an exam with the patient's earlier
ones; they do not depend on the ruleset (only on `on_treatment`, an exam column), so
re-assessing leaves them alone.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.load import Decider
from pipelines.registry.reads import EXAM_COLUMNS
from pipelines.registry.rules_table import record_rules
from pipelines.registry.rulesets import check_ruleset, record_ruleset
from pipelines.registry.store import connect, insert_frame, query, transaction
from schemas.errors import RegistryError
from transforms.rules.ruleset import Ruleset

DEFAULT_BATCH_SIZE = 200_000


class ScratchExists(RegistryError):
    """`--into` names a file that exists already: it is never overwritten."""


@dataclass
class ReassessCounts:
    """What a re-assessment did (counts only: safe for screens and artifacts)."""

    exams_read: int = 0
    assessments_added: int = 0
    flags_added: int = 0
    already_assessed: int = 0
    batches: int = 0


def copy_registry(source: Path, into: Path, lock_timeout_s: float) -> None:
    """Copy a registry file for a what-if; the source is only read (never migrated)."""
    if into.exists():
        raise ScratchExists(f"--into {into} exists already; remove it or name another file")
    if not into.parent.is_dir():
        raise ScratchExists(f"--into {into}: the folder {into.parent} does not exist")
    if not source.is_file():
        raise ScratchExists(f"no registry at {source}")
    # a read-only connection waits for a writer to finish: the file is then consistent
    connect(source, read_only=True, lock_timeout_s=lock_timeout_s).close()
    shutil.copyfile(source, into)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, into.with_name(into.name + ".wal"))


def _pending_exams(con: duckdb.DuckDBPyConnection, label: str, latest_only: bool) -> int:
    """Number the exams this ruleset has not judged yet (temp table); return the count."""
    latest = ("QUALIFY row_number() OVER (PARTITION BY patient_id"
              " ORDER BY exam_date DESC, exam_id DESC) = 1") if latest_only else ""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE reassess_pending AS"
        " SELECT exam_id, row_number() OVER (ORDER BY exam_id) AS n FROM ("
        f"  SELECT exam_id FROM exams {latest}) e"
        " WHERE exam_id NOT IN (SELECT exam_id FROM assessments WHERE ruleset = ?)",
        [label],
    )
    return con.execute("SELECT count(*) FROM reassess_pending").fetchall()[0][0]


def _exam_batch(con: duckdb.DuckDBPyConnection, first: int, last: int) -> pl.DataFrame:
    columns = ", ".join(f"e.{c}" for c in EXAM_COLUMNS)
    return query(
        con,
        f"SELECT {columns} FROM exams e JOIN reassess_pending p USING (exam_id)"
        " WHERE p.n BETWEEN ? AND ? ORDER BY p.n",
        [first, last],
    )


def reassess_registry(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    ruleset: Ruleset,
    decide: Decider,
    *,
    latest_only: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ReassessCounts:
    """Add `ruleset`'s assessments and flags for the exams it has not judged, atomically."""
    label = ruleset.label
    source = check_ruleset(con, ruleset)  # refused before anything is written
    counts = ReassessCounts()
    record_rules(con, ruleset)
    with transaction(con):
        record_ruleset(con, source)
        total = _pending_exams(con, label, latest_only)
        scope = "exams e" if not latest_only else "(SELECT exam_id FROM exams QUALIFY" \
            " row_number() OVER (PARTITION BY patient_id ORDER BY exam_date DESC," \
            " exam_id DESC) = 1) e"
        counts.already_assessed = con.execute(
            f"SELECT count(*) FROM {scope} JOIN assessments a USING (exam_id)"
            " WHERE a.ruleset = ?", [label]).fetchall()[0][0]
        run = pl.lit(run_id)
        for first in range(1, total + 1, batch_size):
            exams = _exam_batch(con, first, first + batch_size - 1)
            assessments, flags = decide(exams)
            insert_frame(con, "assessments", assessments.with_columns(run_id=run))
            insert_frame(con, "flags", flags.with_columns(run_id=run))
            counts.exams_read += exams.height
            counts.assessments_added += assessments.height
            counts.flags_added += flags.height
            counts.batches += 1
        con.execute("DROP TABLE reassess_pending")
    return counts


def forget_ruleset(con: duckdb.DuckDBPyConnection, label: str) -> tuple[int, int]:
    """Remove a ruleset's assessments and flags (never exams); (assessments, flags) gone.

    Its `rulesets` and `rules` rows go too, so the id@version may be used again with
    other content. The primary ruleset cannot be forgotten (choose another first).
    """
    from pipelines.registry.rulesets import primary_ruleset

    if primary_ruleset(con) == label:
        raise RegistryError(f"{label} is this registry's primary ruleset; make another"
                            " primary first (dxa rulesets primary ID@VERSION)")
    with transaction(con):
        gone = [con.execute(f"SELECT count(*) FROM {table} WHERE ruleset = ?",
                            [label]).fetchall()[0][0] for table in ("assessments", "flags")]
        con.execute("DELETE FROM assessments WHERE ruleset = ?", [label])
        con.execute("DELETE FROM flags WHERE ruleset = ?", [label])
        con.execute("DELETE FROM rules WHERE ruleset = ?", [label])
        con.execute("DELETE FROM rulesets WHERE ruleset = ?", [label])
    return gone[0], gone[1]
