"""NHANES DXA public-use files: a folder of SAS transport (.XPT) files, read whole.

Supported structure (CDC/NCHS public-use files, see `docs/nhanes.md`): `DEMO` and
`DXXFEM` (required), `DXXSPN`, `OSQ`, `BMX` (optional), named in either of CDC's styles:
`P_DEMO.XPT` (2017-March 2020 pre-pandemic) or `DEMO_J.XPT` (2017-2018; `_H`, `_I` ...),
any case. All files of a folder must be of one cycle. Read with pyreadstat (an exact 0
stays 0.0, unlike pandas' `read_sas`).

Mapping (vectorised polars joins; no loop over participants):

* One input row = one participant of the DXA files (SEQN in DXXFEM or DXXSPN), in SEQN
  order; `exam_id` = `patient_id` = `NHANES-{cycle letter}-{SEQN}` (stable across runs).
* A site counts only with a completed, valid scan: femur `DXAFMRST` = 1 with the femoral
  neck and total femur BMD present; spine `DXASPNST` = 1 (all vertebrae valid) with the
  total spine (L1-L4) BMD present. Status 2 (scan completed, data invalid; for the spine:
  one or more vertebrae invalid), 3 (pregnancy), 4 (weight over the table limit), 5 (not
  scanned, other reason) give no result at that site, never a zero. Counts per status
  and site are the input's notes; a participant with no valid site is counted in
  `excluded` by the pair of status codes and is not an exam.
* Exam date: the cycle has none per person; the midpoint of the cycle's fieldwork
  period is stored (`CYCLES`), the same for every exam of the cycle.
* Demographics: sex (`RIAGENDR`), age (`RIDAGEYR`, 80 = 80 and over). Body measures:
  `BMXHT`, `BMXWT`, `BMXBMI`. Scanner: Hologic (NHANES scans on Hologic densitometers).
* Questionnaire: parent's hip fracture (`OSQ170` mother, `OSQ200` father: yes if either
  says yes, no if both say no, else not recorded). Other OSQ items are not mapped (see
  `docs/nhanes.md` for why).
* Survey design per exam (`SourceFile.side_tables["survey_design"]`): cycle, MEC exam
  weight (`WTMECPRP` for the pre-pandemic files, `WTMEC2YR` for a two-year cycle),
  masked variance PSU and stratum. Exams with a negative or missing weight (or no PSU or
  stratum) are loaded and counted in the notes; a weighted prevalence refuses them.
* A damaged file fails its folder alone, named (`sources.xport`): truncated, a needed
  variable stored as text, DEMO or DXXFEM missing (the other one names it).
* T-scores: the files give BMD only; the pipeline computes T-scores from the default
  reference (`transforms.tscore`). Z-scores: not recorded.
* A DXA participant without a DEMO row is rejected (row named, no SEQN shown).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from schemas.errors import FileProblem
from schemas.reasons import quarantine_rows, reason_expr, table_row
from sources.base import NHANES, ReadOptions, SourceFile, fingerprint
from sources.xport import numeric, read_transport
from transforms.columns import RAW, ROW_NUMBER

VENDOR = "Hologic"

#: cycle letter -> (cycle label, exam date stored: the midpoint of the fieldwork period)
CYCLES: dict[str, tuple[str, str]] = {
    "D": ("2005-2006", "2006-01-01"),
    "E": ("2007-2008", "2008-01-01"),
    "F": ("2009-2010", "2010-01-01"),
    "H": ("2013-2014", "2014-01-01"),
    "I": ("2015-2016", "2016-01-01"),
    "J": ("2017-2018", "2018-01-01"),
    # 2017-01 to 2020-03 (fieldwork stopped in March 2020): midpoint 2018-08-16
    "P": ("2017-2020P", "2018-08-16"),
}

#: table -> (required columns, optional columns)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "DEMO": (("SEQN", "RIAGENDR", "RIDAGEYR", "SDMVPSU", "SDMVSTRA"),
             ("WTMECPRP", "WTMEC2YR", "RIDSTATR")),
    "DXXFEM": (("SEQN", "DXAFMRST", "DXXNKBMD", "DXXOFBMD"), ()),
    "DXXSPN": (("SEQN", "DXASPNST", "DXXOSBMD"), ()),
    "OSQ": (("SEQN",), ("OSQ170", "OSQ200")),
    "BMX": (("SEQN",), ("BMXHT", "BMXWT", "BMXBMI")),
}
REQUIRED = ("DEMO", "DXXFEM")

#: Scan status codes (DXAFMRST, DXASPNST) as the CDC codebooks give them.
STATUS_MEANINGS = {
    1: "valid",
    2: "completed, data invalid",
    3: "not scanned, pregnancy",
    4: "not scanned, weight over table limit",
    5: "not scanned, other reason",
}

_FILE = re.compile(r"^(?:(P)_)?([A-Z]+?)(?:_([A-Z]))?\.XPT$")


def _nhanes_files(folder: Path) -> dict[str, tuple[Path, str | None]]:
    """table -> (file, cycle letter or None) for the NHANES files of a folder."""
    found: dict[str, tuple[Path, str | None]] = {}
    for child in sorted(folder.iterdir()):
        match = _FILE.match(child.name.upper()) if child.is_file() else None
        if match is None or match.group(2) not in TABLES:
            continue
        pandemic, table, suffix = match.groups()
        if pandemic and suffix:
            continue
        found[table] = (child, pandemic or suffix)
    return found


def sniff(path: Path) -> str | None:
    """None for a folder holding an NHANES DEMO or DXXFEM transport file.

    Either is enough: a folder with one of the two is an NHANES input that fails naming
    the other, rather than a folder whose files each fail as not being a folder.
    """
    if not path.is_dir():
        return "not an NHANES folder"
    files = _nhanes_files(path)
    if not any(name in files for name in REQUIRED):
        return "folder holds no NHANES DEMO or DXXFEM .XPT file"
    return None


def _cycle(files: dict[str, tuple[Path, str | None]]) -> str:
    letters = {letter for _path, letter in files.values()}
    if len(letters) != 1 or None in letters:
        raise FileProblem("NHANES folder mixes files of several cycles (or of none): "
                          + ", ".join(p.name for p, _l in files.values()))
    letter = letters.pop()
    assert letter is not None
    if letter not in CYCLES:
        raise FileProblem(f"NHANES cycle {letter!r} has no DXA femur data this reader knows")
    return letter


def read_xpt(path: Path, table: str) -> pl.DataFrame:
    """One SAS transport file as a polars frame with the columns this reader uses.

    A truncated file, a needed variable missing or stored as text, or a SEQN missing or
    repeated fails the file (and so its folder), named; never a value.
    """
    required, optional = TABLES[table]
    frame = read_transport(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FileProblem(f"{path.name} lacks column(s): {', '.join(missing)}")
    present = [c for c in (*required, *optional) if c in frame.columns]
    frame = numeric(frame, present, path.name)
    absent = [c for c in optional if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in absent)
    if frame.get_column("SEQN").is_null().any():
        raise FileProblem(f"{path.name}: a row has no SEQN")
    if frame.get_column("SEQN").is_duplicated().any():
        raise FileProblem(f"{path.name}: a SEQN occurs more than once")
    return frame.with_columns(pl.col("SEQN").cast(pl.Int64))


def _file_name(table: str, like: Path, letter: str | None) -> str:
    """The name CDC gives `table` in the naming style (and case) of the file `like`."""
    name = {"P": f"P_{table}.XPT", None: f"{table}.XPT"}.get(letter, f"{table}_{letter}.XPT")
    return name.lower() if like.name.islower() else name


def _require(files: dict[str, tuple[Path, str | None]]) -> None:
    """DEMO and DXXFEM both present; else the file that is there names the one missing."""
    missing = [name for name in REQUIRED if name not in files]
    if not missing:
        return
    present = [name for name in REQUIRED if name in files]
    if not present:
        raise FileProblem("NHANES folder lacks file(s): " + ", ".join(missing))
    path, letter = files[present[0]]
    raise FileProblem(f"{path.name}: no {missing[0]} file beside it "
                      f"(expected {_file_name(missing[0], path, letter)})")


def _tables(folder: Path) -> tuple[str, dict[str, pl.DataFrame]]:
    files = _nhanes_files(folder)
    _require(files)
    letter = _cycle(files)
    tables = {name: read_xpt(path, name) for name, (path, _l) in files.items()}
    for name, (required, optional) in TABLES.items():
        if name not in tables:  # optional table not in the folder
            schema = dict.fromkeys((*required, *optional), pl.Float64) | {"SEQN": pl.Int64}
            tables[name] = pl.DataFrame(schema=schema)
    return letter, tables


def _status_notes(participants: pl.DataFrame) -> list[str]:
    """`femur scan status (DXAFMRST): 1 valid 3545; 2 completed, data invalid 339; ...`"""
    notes = []
    for site, column in (("femur", "DXAFMRST"), ("spine", "DXASPNST")):
        counts = (
            participants.group_by(column).len().sort(column, nulls_last=True).rows()
        )
        parts = [
            f"{'no scan record' if code is None else int(code)}"
            f"{'' if code is None else ' ' + STATUS_MEANINGS.get(int(code), 'unknown code')}"
            f" {n}"
            for code, n in counts
        ]
        notes.append(f"{site} scan status ({column}): " + "; ".join(parts))
    return notes


def _yes_no(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Either says yes (1) -> true; both say no (2) -> false; else not recorded."""
    return (
        pl.when((a == 1) | (b == 1)).then(pl.lit("yes"))
        .when((a == 2) & (b == 2)).then(pl.lit("no"))
        .otherwise(None)
    )


def _number_text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


def _participants(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per DXA participant with the DXA, DEMO, OSQ and BMX variables joined."""
    seqn = pl.concat([tables["DXXFEM"].select("SEQN"), tables["DXXSPN"].select("SEQN")]
                     ).unique().sort("SEQN")
    demo = tables["DEMO"].with_columns(pl.lit(True).alias("_in_demo"))
    return (
        seqn.join(tables["DXXFEM"], on="SEQN", how="left")
        .join(tables["DXXSPN"], on="SEQN", how="left")
        .join(demo, on="SEQN", how="left")
        .join(tables["OSQ"], on="SEQN", how="left")
        .join(tables["BMX"], on="SEQN", how="left")
        .with_row_index(ROW_NUMBER, offset=1)
        .with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    )


def _measured(column: str) -> pl.Expr:
    """A BMD that was measured: present and above zero (a zero is not a measurement)."""
    return pl.col(column).is_not_null() & (pl.col(column) > 0)


def _valid_sites(frame: pl.DataFrame) -> pl.DataFrame:
    """`_femur_ok` / `_spine_ok`: the site has a completed, valid scan (status 1)."""
    return frame.with_columns(
        _femur_ok=(pl.col("DXAFMRST") == 1) & _measured("DXXNKBMD") & _measured("DXXOFBMD"),
        _spine_ok=(pl.col("DXASPNST") == 1) & _measured("DXXOSBMD"),
    ).with_columns(pl.col("_femur_ok", "_spine_ok").fill_null(False))


def _without_valid_scan(participants: pl.DataFrame) -> dict[str, int]:
    """Participants with no valid site, counted by their pair of scan status codes."""
    def code(value: float | None) -> str:
        return "none" if value is None else str(int(value))

    no_site = participants.filter(~pl.col("_femur_ok") & ~pl.col("_spine_ok"))
    counts = no_site.group_by("DXAFMRST", "DXASPNST").len().sort(
        "DXAFMRST", "DXASPNST", nulls_last=True
    )
    return {
        f"participants_without_a_valid_scan_(femur_status_{code(femur)},"
        f"_spine_status_{code(spine)})": n
        for femur, spine, n in counts.rows()
    }


def _cells(frame: pl.DataFrame, letter: str) -> pl.DataFrame:
    exam_id = pl.format("NHANES-{}-{}", pl.lit(letter), pl.col("SEQN"))
    femur, spine = pl.col("_femur_ok"), pl.col("_spine_ok")
    cells = frame.select(
        pl.col(ROW_NUMBER),
        exam_id.alias("exam_id"),
        exam_id.alias("patient_id"),
        pl.lit(CYCLES[letter][1]).alias("exam_date"),
        _number_text(pl.col("RIDAGEYR").cast(pl.Int64)).alias("age_years"),
        pl.col("RIAGENDR").replace_strict({1.0: "M", 2.0: "F"}, default=None,
                                          return_dtype=pl.String).alias("sex"),
        _number_text(pl.col("BMXHT")).alias("height_cm"),
        _number_text(pl.col("BMXWT")).alias("weight_kg"),
        _number_text(pl.col("BMXBMI")).alias("bmi"),
        pl.lit(VENDOR).alias("scanner_manufacturer"),
        _number_text(pl.when(spine).then(pl.col("DXXOSBMD"))).alias("spine_bmd"),
        pl.when(spine).then(pl.lit("4")).alias("spine_vertebrae"),
        _number_text(pl.when(femur).then(pl.col("DXXNKBMD"))).alias("femoral_neck_bmd"),
        _number_text(pl.when(femur).then(pl.col("DXXOFBMD"))).alias("total_hip_bmd"),
        _yes_no(pl.col("OSQ170"), pl.col("OSQ200")).alias("parent_hip_fracture"),
    )
    used = ["SEQN", "DXAFMRST", "DXXNKBMD", "DXXOFBMD", "DXASPNST", "DXXOSBMD",
            "RIAGENDR", "RIDAGEYR", "BMXHT", "BMXWT", "BMXBMI", "OSQ170", "OSQ200"]
    return cells.with_columns(frame.select(pl.struct(used).struct.json_encode()).to_series()
                              .alias(RAW))


def weight_variable(cycle: str) -> str:
    """The NHANES name of a cycle's MEC exam weight (`cycle`: a label of `CYCLES`)."""
    return "WTMECPRP" if cycle == CYCLES["P"][0] else "WTMEC2YR"


def _survey_design(frame: pl.DataFrame, letter: str) -> pl.DataFrame:
    return frame.select(
        pl.format("NHANES-{}-{}", pl.lit(letter), pl.col("SEQN")).alias("exam_id"),
        pl.lit(CYCLES[letter][0]).alias("cycle"),
        pl.col(weight_variable(CYCLES[letter][0])).alias("weight_mec"),
        pl.col("SDMVPSU").cast(pl.Int64).alias("psu"),
        pl.col("SDMVSTRA").cast(pl.Int64).alias("stratum"),
    )


def _design_notes(design: pl.DataFrame, letter: str) -> list[str]:
    """Exams loaded with a design a weighted estimate cannot use: counted, by variable.

    They are loaded (the exam itself is sound); `dxa prevalence --weights survey` then
    refuses an estimate that would count them.
    """
    weight = weight_variable(CYCLES[letter][0])
    counts = design.select(
        (pl.col("weight_mec") < 0).sum().alias(f"a negative MEC exam weight ({weight})"),
        pl.col("weight_mec").is_null().sum().alias(f"no MEC exam weight ({weight})"),
        (pl.col("psu").is_null() | pl.col("stratum").is_null()).sum()
        .alias("no masked variance PSU or stratum (SDMVPSU, SDMVSTRA)"),
    ).row(0, named=True)
    return [f"exams with {what}: {n} (loaded; `dxa prevalence --weights survey` refuses "
            "a weighted estimate that counts them)" for what, n in counts.items() if n]


def read(path: Path, options: ReadOptions | None = None) -> SourceFile:
    """Read an NHANES folder into one row of canonical text cells per DXA participant."""
    if not path.is_dir():
        raise FileProblem(f"{path.name}: an NHANES input is the folder of its .XPT files "
                          "(DEMO and DXXFEM at least), not one file")
    letter, tables = _tables(path)
    participants = _valid_sites(_participants(tables))
    notes = _status_notes(participants)
    excluded = _without_valid_scan(participants)
    scanned = participants.filter(pl.col("_femur_ok") | pl.col("_spine_ok"))
    cells = _cells(scanned, letter)
    orphan = scanned.get_column("_in_demo").is_null()
    orphans = cells.filter(orphan).select(
        pl.col(ROW_NUMBER).cast(pl.Int64).alias("row_number"),
        pl.col("exam_id"),
        pl.col(RAW).alias("raw"),
    )
    reasons = orphans.select(
        "row_number",
        reason_expr("NHANES_NO_DEMOGRAPHICS", "DEMO",
                    where=table_row("DXA participant", pl.col("row_number"))).alias("r"),
    ).unnest("r")
    rejected = quarantine_rows(reasons, orphans)
    notes.append(f"cycle {CYCLES[letter][0]}: exam_date is the cycle's midpoint "
                 f"{CYCLES[letter][1]} (NHANES gives no date per person)")
    design = _survey_design(scanned.filter(~orphan), letter)
    notes.extend(_design_notes(design, letter))
    return SourceFile(
        path=path,
        sha256=fingerprint(path),
        source_format=NHANES,
        vendor=VENDOR,
        cells=cells.filter(~orphan),
        rejected=rejected,
        excluded=excluded,
        notes=notes,
        side_tables={"survey_design": design},
    )
