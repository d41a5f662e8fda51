"""Hologic APEX table export: a folder of CSVs, one per APEX table, read whole.

Supported structure (see `docs`/vendor-exports.md): `Patient.csv`, `ScanAnalysis.csv`,
`ReferenceResults.csv` (required) and `Spine.csv`, `Hip.csv`, `Forearm.csv` (those the
export has scans for); file names case-insensitive, header = APEX column names (any
case), delimiter `,` `;` or TAB, UTF-8 or Windows-1252. A folder holding two or more of
these six table names is taken as an APEX export: one that lacks a required table fails
alone ("APEX export lacks table(s): Patient"), rather than being read as loose CSVs.

Mapping (all vectorised polars joins and group-bys; file order never picks a value):

* Rows link by key: measurement and reference rows to their scan on (PATIENT_KEY,
  SCANID) when the table has a PATIENT_KEY column, else on SCANID; scans to patients on
  PATIENT_KEY. A measurement table carries the scan's current analysis (APEX overwrites
  results on reanalysis), so one row per scan (and BONERANGE) is expected.
* Duplicates: an exact duplicate row of any table is dropped and counted in
  `excluded["duplicate_<Table>_rows"]`; rows that share a key but differ (two Spine
  rows for one scan, two Patient rows for one PATIENT_KEY, two ReferenceResults rows for
  one scan and BONERANGE) have no silent winner: the exams they touch are rejected.
* One exam = the scans of one PATIENT_KEY on one SCAN_DATE on one SERIAL_NUMBER;
  exam_id `APEX-{SERIAL_NUMBER}-{PATIENT_KEY}-{YYYYMMDD}`. A scan without SERIAL_NUMBER,
  PATIENT_KEY or a readable SCAN_DATE has no exam id: it is rejected on its own.
* SCAN_TYPE 1 AP spine, 2 left hip, 3 right hip, 6/7 forearm; other scan types (whole
  body, ...) are counted in `excluded["other_scan_types"]`; QC_SCAN true (phantom scans)
  in `excluded["qc_scans"]`; Patient rows no scan refers to in
  `excluded["patients_without_scans"]`.
* A scan with several ScanAnalysis rows: the latest ANALYSIS_DATE (then REANALYSIS_FLAG)
  is current, the others are counted in `excluded["superseded_analyses"]`; two rows
  that tie on both reject the exam.
* Two scans of the same kind (and side) in one exam: the later SCAN_DATE (then
  ANALYSIS_DATE) is kept, the other counted in `excluded["repeated_scans"]` (a tie
  rejects the exam). With both hips scanned the hip whose lower of (neck T, total hip T)
  is lower is kept (ties: left), `hip_side` says which, and the other is counted in
  `excluded["contralateral_hips"]`. The errors of every scan of an exam, kept or not,
  decide whether the exam is loaded.
* Spine: TOT_BMD; vertebrae = the L1..L4_INCLUDED flags (else the digits of BONERANGE);
  T/Z from the ReferenceResults row of a spine BONERANGE (`1234`, `12.4`, ...; the widest
  if several). Hip: NECK_BMD + BONERANGE `1...`, HTOT_BMD + `123.`. Forearm: R_13_BMD +
  BONERANGE `R..`.
* Patient: IDENTIFIER1 -> patient_id, BIRTHDATE, SEX (`F`/`M`; `FEMALE`/`MALE` and
  `W` accepted), HEIGHT (cm), WEIGHT (kg), BMI; MENOPAUSE_YEAR at or before the exam
  year -> menopausal_status `post` (otherwise not recorded). Risk-factor columns and
  FRAX are not in these tables: not recorded.
* Errors (reason codes worded in `schemas.reasons`) name the table and its row number
  (1 = first data row), never a key or identifier value. An exam with any
  error is rejected whole; measurement or reference rows that link to no ScanAnalysis
  row, and ScanAnalysis rows without SCANID, are rejected one by one.
The adapter is split by job: `tables` reads and links the APEX tables, `sites` maps
scans and BONERANGE rows to sites, `exams` assembles exams and holds `read`.
"""

from sources.apex.exams import read
from sources.apex.tables import (
    MEASUREMENT_TABLES,
    MIN_TABLES_FOR_APEX,
    OPTIONAL_COLUMNS,
    REQUIRED_TABLES,
    SCAN_TYPES,
    VENDOR,
    sniff,
)

__all__ = [
    "MEASUREMENT_TABLES",
    "MIN_TABLES_FOR_APEX",
    "OPTIONAL_COLUMNS",
    "REQUIRED_TABLES",
    "SCAN_TYPES",
    "VENDOR",
    "read",
    "sniff",
]
