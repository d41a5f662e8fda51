"""`dxa precision`: the facility's own precision per scanner and site, from the registry.

ISCD asks each facility to measure its precision (30 patients scanned twice, or 15 three
times, on the same day, repositioned) and to use LSC = 2.77 x that precision rather than a
published figure. A registry already holds such scans: same-day repeat exams of a patient
on one scanner. This reader finds them and pools them the way the ISCD precision
calculator does, so that a facility can replace the defaults of `config/precision.toml`
with its own values (`pipelines/readers/precision_file.py` writes that file).

The method (the ISCD precision calculator's), all in one DuckDB query:

- a *set* is one patient's BMDs of one site and region on one scanner on one day, with at
  least two scans: the hip sites only with the same `hip_side` (both blank is a side of
  its own), the spine only with the same vertebra count (blank = 4), a blank scanner serial
  never forms a set (it cannot say that the scans were made on one machine);
- per set, n_i scans, SD_i (sample SD, g/cm2), mean_i, %CV_i = 100 x SD_i / mean_i and
  df_i = n_i - 1;
- per scanner and site: RMS-SD = sqrt(sum(SD_i^2 x df_i) / sum(df_i)), the RMS %CV
  likewise, df = sum(df_i), LSC = 2.77 x each;
- the study is complete at df >= 30, and its precision meets ISCD's minimum acceptable
  when the RMS %CV is at most that site's figure (spine 1.9 %, total hip 1.8 %, femoral
  neck 2.5 %; the radius has none). The RMS %CV is rounded to 6 decimals before that
  comparison, as serial verdicts are, so that a precision exactly at the minimum is not
  failed by binary floating-point noise.

Counts and statistics only leave the registry: no patient or exam identifier.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from pipelines.readers.access import reading
from pipelines.readers.reporting.model import Column, Kind, Section, counts, section_from_frame
from pipelines.readers.spreadsheet_cells import neutralise
from pipelines.registry.store import query
from schemas.columns import SITES
from schemas.errors import RegistryError
from transforms.precision import LSC_FACTOR

#: ISCD's minimum acceptable precision per site (%CV); the radius has none.
ISCD_MINIMUM_PCT: Final = {"spine": 1.9, "total_hip": 1.8, "femoral_neck": 2.5}
#: Degrees of freedom of a complete study (ISCD: 30 patients x 2 scans, 15 x 3).
COMPLETE_DF: Final = 30
#: Decimals of the RMS %CV compared with the ISCD minimum (see module docstring).
DECIMALS: Final = 6

#: One row per set (patient, scanner, day, site, region) of two or more scans, then one
#: row per scanner and site. `measurements` gives each exam's sites with their region.
STUDY_SQL: Final = f"""
    WITH scans AS (
        SELECT e.patient_id, e.scanner_serial, e.exam_date, m.site,
               coalesce(m.hip_side, '') AS hip_side, coalesce(m.vertebrae, 0) AS vertebrae,
               m.bmd_g_cm2 AS bmd
        FROM measurements m JOIN exams e USING (exam_id)
        WHERE m.bmd_g_cm2 IS NOT NULL AND nullif(trim(e.scanner_serial), '') IS NOT NULL),
    sets AS (
        SELECT scanner_serial, site, patient_id, count(*) AS n, var_samp(bmd) AS variance,
               var_samp(bmd) / (avg(bmd) * avg(bmd)) * 10000 AS cv_squared
        FROM scans
        GROUP BY scanner_serial, site, patient_id, exam_date, hip_side, vertebrae
        HAVING count(*) >= 2),
    pooled AS (
        SELECT scanner_serial, site, count(DISTINCT patient_id) AS patients,
               CAST(sum(n) AS BIGINT) AS scans, CAST(sum(n - 1) AS BIGINT) AS df,
               sqrt(sum(variance * (n - 1)) / sum(n - 1)) AS rms_sd_g_cm2,
               sqrt(sum(cv_squared * (n - 1)) / sum(n - 1)) AS rms_cv_pct
        FROM sets GROUP BY scanner_serial, site)
    SELECT scanner_serial, site, patients, scans, df, rms_sd_g_cm2, rms_cv_pct,
           {LSC_FACTOR} * rms_sd_g_cm2 AS lsc_g_cm2, {LSC_FACTOR} * rms_cv_pct AS lsc_pct
    FROM pooled
    ORDER BY scanner_serial, list_position({list(SITES)}, site)
"""

#: The columns every output shows, in order (table, CSV, JSON).
COLUMNS: Final = (
    Column("scanner_serial", Kind.TEXT, "scanner"), Column("site", Kind.TEXT),
    counts("patients"), counts("scans"), counts("df"),
    Column("rms_sd_g_cm2", Kind.FLOAT, "RMS SD g/cm2"),
    Column("rms_cv_pct", Kind.FLOAT, "RMS %CV"),
    Column("lsc_g_cm2", Kind.FLOAT, "LSC g/cm2"), Column("lsc_pct", Kind.FLOAT, "LSC %"),
    Column("iscd_minimum_pct", Kind.FLOAT, "ISCD minimum %CV"),
    Column("meets_iscd", Kind.BOOL, "meets ISCD"), Column("complete", Kind.BOOL),
)


class PrecisionStudyError(RegistryError):
    """The registry cannot be read for a precision study (one line, exit 1)."""


def with_verdicts(pooled: pl.DataFrame) -> pl.DataFrame:
    """Add the ISCD minimum of each site, whether the precision meets it (null for a site
    without one) and whether the study is complete (df >= 30)."""
    minimum = pl.col("site").replace_strict(ISCD_MINIMUM_PCT, default=None,
                                            return_dtype=pl.Float64)
    return pooled.with_columns(iscd_minimum_pct=minimum).with_columns(
        meets_iscd=pl.col("rms_cv_pct").round(DECIMALS) <= pl.col("iscd_minimum_pct"),
        complete=pl.col("df") >= COMPLETE_DF,
    )


@dataclass(frozen=True)
class PrecisionStudy:
    """The study of one registry: one row per scanner and site with a same-day set."""

    db: Path
    made_at: dt.datetime
    rows: pl.DataFrame

    def section(self) -> Section:
        """The rows in the report model (the table `dxa precision` prints)."""
        note = (f"LSC = {LSC_FACTOR} x precision; complete: degrees of freedom >= "
                f"{COMPLETE_DF} (ISCD: 30 patients scanned twice or 15 three times)")
        if self.rows.height == 0:
            note = ("no patient has two or more same-day exams of a site on one scanner: "
                    "the registry holds no precision study")
        return section_from_frame(self.rows, key="precision", columns=COLUMNS, note=note,
                                  title="Precision per scanner and site (same-day repeats)")

    def csv(self) -> str:
        """The rows as CSV; a serial that would start a formula gets a leading `'`."""
        return neutralise(self.rows.select(c.name for c in COLUMNS)).write_csv()

    def json(self) -> str:
        """The rows as JSON, with when and from which registry they were computed."""
        return json.dumps({"registry": str(self.db),
                           "made_at": self.made_at.isoformat(timespec="seconds"),
                           "lsc_factor": LSC_FACTOR, "complete_df": COMPLETE_DF,
                           "rows": self.section().as_dicts()}, indent=2, ensure_ascii=False)

    def complete_rows(self) -> pl.DataFrame:
        return self.rows.filter(pl.col("complete"))

    def incomplete_rows(self) -> pl.DataFrame:
        return self.rows.filter(~pl.col("complete"))


def precision_study(db: Path, lock_timeout_s: float | None = None) -> PrecisionStudy:
    """Compute the study from the registry (or its reporting copy) at `db`, read-only."""
    with reading(db, lock_timeout_s, PrecisionStudyError) as con:
        pooled = query(con, STUDY_SQL)
    made_at = dt.datetime.now().astimezone()
    return PrecisionStudy(db=db, made_at=made_at, rows=with_verdicts(pooled))
