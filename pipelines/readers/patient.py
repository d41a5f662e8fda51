"""`dxa patient ID`: one patient's history at a glance, for authorised staff.

Why: a clinician or data manager asked about one patient had to join `exams`,
`measurements`, `assessments`, `flags` and `bmd_changes` by hand. Here, in three reads:
the exams (date, scanner, each measured site's BMD, T- and Z-score), each exam's decision
under one ruleset with the rule IDs behind it (`reasons`) and its flags, and the BMD trend
per site: the serial comparison's rows (change against the previous exam and the
baseline on the same scanner, the least significant change, whether it was exceeded).

Like the worklists (`dxa export`), this shows a patient identifier: it is one of the
commands made for authorised lists, and the only way one patient's rows leave the
registry on a screen. The sections below hold no identifier (rows are dated); the CLI's
heading and the HTML page name the patient. Errors never echo the id asked for: an id
may identify a person, and an error line ends up in terminal scrollback and tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.readers.access import reading
from pipelines.readers.reporting import order
from pipelines.readers.reporting.model import Column, Kind, Section, section_from_frame, text
from pipelines.readers.worklists import resolve_ruleset_label
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S
from schemas.errors import DxaError


class PatientError(DxaError):
    """One patient's history cannot be shown; the message never holds the id asked for."""


#: Said for an id the registry holds no exam of (the id itself is never repeated).
NO_EXAMS = "no exams for the given patient id"

#: One row per exam and measured site (`measurements`: a site with a BMD, T or Z).
EXAMS_SQL = f"""
SELECT e.exam_date, e.scanner_serial AS scanner, m.site, m.bmd_g_cm2, m.t_score, m.z_score
FROM exams e JOIN measurements m USING (exam_id)
WHERE e.patient_id = $patient
ORDER BY e.exam_date, e.exam_id, {order.sort_key('m.site', order.SITES)}"""

#: One row per exam: its decision under $ruleset (blank when that ruleset did not judge
#: it), its rule IDs, and its flags (this ruleset's and the ruleset-free serial ones).
DECISIONS_SQL = f"""
WITH mine AS (SELECT exam_id, exam_date, scanner_serial FROM exams
              WHERE patient_id = $patient),
flagged AS (
    SELECT f.exam_id,
           string_agg(f.code || coalesce(': ' || f.detail, ''), '; '
                      ORDER BY {order.sort_key('f.severity', order.SEVERITIES)}, f.code,
                               f.detail) AS flags
    FROM flags f JOIN mine USING (exam_id)
    WHERE f.ruleset = $ruleset OR f.ruleset IS NULL
    GROUP BY f.exam_id)
SELECT m.exam_date, m.scanner_serial AS scanner,
       coalesce(a.who_category, a.z_category) AS category, a.diagnostic_site,
       a.diagnostic_t_score, a.treatment, a.next_dxa_due,
       array_to_string(a.reasons, '; ') AS reasons, fl.flags
FROM mine m
LEFT JOIN assessments a ON a.exam_id = m.exam_id AND a.ruleset = $ruleset
LEFT JOIN flagged fl ON fl.exam_id = m.exam_id
ORDER BY m.exam_date, m.exam_id"""

#: The `bmd_changes` rows of the patient's exams: per site, in time order, the previous
#: comparison before the baseline one; dated by the exam and the exam compared with.
CHANGES_SQL = f"""
SELECT c.site, e.exam_date, c.comparison, p.exam_date AS prior_date,
       e.scanner_serial AS scanner, c.bmd_g_cm2, c.prior_bmd_g_cm2,
       round(c.pct_change, 2) AS pct_change, round(c.lsc_pct, 2) AS lsc_pct,
       c.significant, c.direction
FROM bmd_changes c
JOIN exams e ON e.exam_id = c.exam_id
JOIN exams p ON p.exam_id = c.prior_exam_id
WHERE e.patient_id = $patient
ORDER BY {order.sort_key('c.site', order.SITES)}, e.exam_date, e.exam_id,
         c.comparison DESC"""


@dataclass(frozen=True)
class PatientHistory:
    """One patient's exams, decisions and BMD changes, as frames in display order."""

    patient_id: str
    ruleset: str
    exams: pl.DataFrame
    decisions: pl.DataFrame
    changes: pl.DataFrame

    @property
    def exam_count(self) -> int:
        return self.decisions.height

    @property
    def heading(self) -> str:
        """The line above the tables (it names the patient: authorised staff only)."""
        dates = self.decisions["exam_date"]
        return (f"patient {self.patient_id}: {self.exam_count} exams, {dates.min()} to "
                f"{dates.max()}; decisions under {self.ruleset} (patient identifiers: for "
                "authorised staff only)")

    def sections(self) -> tuple[Section, ...]:
        """The three tables `dxa patient` shows (no identifier in any row)."""
        return (exams_section(self.exams), decisions_section(self.decisions, self.ruleset),
                changes_section(self.changes))


def exams_section(exams: pl.DataFrame) -> Section:
    return section_from_frame(exams, key="exams", title="Exams", columns=[
        Column("exam_date", Kind.DATE, "date"), text("scanner"), text("site"),
        Column("bmd_g_cm2", Kind.FLOAT, "BMD g/cm²"), Column("t_score", Kind.FLOAT, "T"),
        Column("z_score", Kind.FLOAT, "Z")])


def decisions_section(decisions: pl.DataFrame, ruleset: str) -> Section:
    return section_from_frame(
        decisions, key="decisions", title=f"Decisions under {ruleset}", columns=[
            Column("exam_date", Kind.DATE, "date"), text("category"),
            text("diagnostic_site", "site"), Column("diagnostic_t_score", Kind.FLOAT, "T"),
            text("treatment"), Column("next_dxa_due", Kind.DATE, "next DXA due"),
            text("reasons", "rule IDs"), text("flags")],
        note="Decision support for quality work, not treatment prescriptions.")


def changes_section(changes: pl.DataFrame) -> Section:
    return section_from_frame(
        changes, key="changes", title="BMD trend per site (same scanner)", columns=[
            text("site"), Column("exam_date", Kind.DATE, "date"), text("comparison"),
            Column("prior_date", Kind.DATE, "against"),
            Column("bmd_g_cm2", Kind.FLOAT, "BMD"),
            Column("prior_bmd_g_cm2", Kind.FLOAT, "earlier BMD"),
            Column("pct_change", Kind.FLOAT, "change %"), Column("lsc_pct", Kind.FLOAT, "LSC %"),
            Column("significant", Kind.BOOL), text("direction")],
        note="significant: the change exceeds the least significant change (LSC) of the site"
             " on that scanner; blank when no precision is configured for the site.")


def read_history(con: duckdb.DuckDBPyConnection, patient_id: str,
                 ruleset: str | None) -> PatientHistory:
    """The patient's history from an open (read-only) connection."""
    params = {"patient": patient_id}
    held = con.execute("SELECT count(*) FROM exams WHERE patient_id = $patient", params)
    if not held.fetchall()[0][0]:
        raise PatientError(NO_EXAMS)
    label = resolve_ruleset_label(con, ruleset, PatientError)
    exams = con.sql(EXAMS_SQL, params=params).pl()
    decisions = con.sql(DECISIONS_SQL, params={**params, "ruleset": label}).pl()
    changes = con.sql(CHANGES_SQL, params=params).pl()
    return PatientHistory(patient_id, label, exams, decisions, changes)


def patient_history(db: Path, patient_id: str, *, ruleset: str | None = None,
                    lock_timeout_s: float = READ_LOCK_TIMEOUT_S) -> PatientHistory:
    """`dxa patient ID`: the history of one patient in the registry (or reporting copy)."""
    with reading(db, lock_timeout_s, PatientError) as con:
        return read_history(con, patient_id, ruleset)
