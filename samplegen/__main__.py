"""Write the committed sample: canonical exam CSVs split by exam period, with bad rows.

    python -m samplegen --out sample_data --seed 20251125 --exams 3000

Writes one CSV per period (``exams_2019_2021.csv`` ...), ``README.md`` (what is in the
files and how to regenerate them) and ``manifest.json`` (every injected defect with its
file and row number). Deterministic: the same arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from samplegen.bad_rows import EXACT_DUPLICATE, KINDS, bad_row_manifest, inject_bad_rows
from samplegen.canonical import (
    DEFAULT_END,
    DEFAULT_START,
    SCANNERS,
    SCHEMA,
    generate_exams,
    to_text,
)

_FILE = "_file"
_DEFECT = "_defect"


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    name: str


def split_periods(start: date, end: date, parts: int = 3) -> list[Period]:
    """``parts`` consecutive exam periods covering [start, end]: whole calendar years when
    the range spans at least ``parts`` years (file ``exams_2019_2021.csv``), else equal
    day ranges (``exams_20250101_20250430.csv``)."""
    n_years = end.year - start.year + 1
    periods: list[Period] = []
    if n_years >= parts:
        year = start.year
        for index in range(parts):
            size = n_years // parts + (1 if index < n_years % parts else 0)
            first_year, last_year = year, year + size - 1
            name = f"exams_{first_year}.csv" if size == 1 else f"exams_{first_year}_{last_year}.csv"
            periods.append(
                Period(max(start, date(first_year, 1, 1)), min(end, date(last_year, 12, 31)), name)
            )
            year = last_year + 1
        return periods
    n_days = (end - start).days + 1
    first = start
    for index in range(parts):
        last = start + timedelta(days=(n_days * (index + 1)) // parts - 1)
        periods.append(Period(first, last, f"exams_{first:%Y%m%d}_{last:%Y%m%d}.csv"))
        first = last + timedelta(days=1)
    return periods


def build_sample(
    n_exams: int,
    seed: int,
    bad_fraction: float,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
) -> tuple[list[Period], pl.DataFrame]:
    """The sample as one all-strings frame with ``_file`` and ``_defect`` columns, rows in
    file order (by exam date within a file; extra rows inserted at random places)."""
    periods = split_periods(start, end)
    typed = generate_exams(n_exams, seed, start_date=start, end_date=end).sort(
        "exam_date", "exam_id"
    )
    file_of = pl.lit(periods[-1].name)
    for period in reversed(periods[:-1]):
        file_of = (
            pl.when(pl.col("exam_date") <= period.last).then(pl.lit(period.name)).otherwise(file_of)
        )
    text = to_text(typed.with_columns(file_of.alias(_FILE)), seed)
    return periods, inject_bad_rows(text, bad_fraction, seed, label_column=_DEFECT)


def _patient_spread(frame: pl.DataFrame) -> dict[str, int]:
    """How repeat patients' exams fall across files (for the README)."""
    per_patient = (
        frame.filter(pl.col(_DEFECT).is_null())
        .group_by("patient_id")
        .agg(
            n=pl.len(),
            n_files=pl.col(_FILE).n_unique(),
            n_serials=pl.col("scanner_serial").n_unique(),
            same_file_pair=pl.col(_FILE).is_duplicated().any(),
        )
        .filter(pl.col("n") > 1)
    )
    return {
        "patients_with_repeat_exams": per_patient.height,
        "in_more_than_one_file": per_patient.filter(pl.col("n_files") > 1).height,
        "with_two_exams_in_the_same_file": per_patient.filter("same_file_pair").height,
        "all_on_one_scanner": per_patient.filter(pl.col("n_serials") == 1).height,
        "on_more_than_one_scanner": per_patient.filter(pl.col("n_serials") > 1).height,
    }


def write_sample(
    out: Path,
    n_exams: int,
    seed: int,
    bad_fraction: float,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
) -> dict:
    """Write the CSVs, README.md and manifest.json into ``out``; return the manifest."""
    periods, frame = build_sample(n_exams, seed, bad_fraction, start, end)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, int]] = {}
    defect_rows: list[dict[str, object]] = []
    for period in periods:
        part = frame.filter(pl.col(_FILE) == period.name).with_row_index("row_number", offset=1)
        part.select(list(SCHEMA)).write_csv(out / period.name)
        labelled = part.filter(pl.col(_DEFECT).is_not_null())
        files[period.name] = {
            "rows": part.height,
            "bad_rows": labelled.filter(pl.col(_DEFECT) != EXACT_DUPLICATE).height,
            "exact_duplicates": labelled.filter(pl.col(_DEFECT) == EXACT_DUPLICATE).height,
        }
        defect_rows += [
            {"file": period.name, "row_number": row_number, "exam_id": exam_id, "kind": kind}
            for row_number, exam_id, kind in labelled.select(
                "row_number", "exam_id", _DEFECT
            ).iter_rows()
        ]
    command = (
        f"python -m samplegen --out {out.as_posix()} --seed {seed} --exams {n_exams}"
        f" --bad-fraction {bad_fraction} --start {start} --end {end}"
    )
    manifest = {
        "seed": seed,
        "command": command,
        "exams_generated": n_exams,
        "bad_fraction": bad_fraction,
        "files": files,
        "kinds": bad_row_manifest(frame, _DEFECT),
        "repeat_patients": _patient_spread(frame),
        "rows": defect_rows,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.md").write_text(_readme(periods, manifest))
    return manifest


def _readme(periods: list[Period], manifest: dict) -> str:
    files = manifest["files"]
    kinds = manifest["kinds"]
    total_rows = sum(f["rows"] for f in files.values())
    total_bad = sum(f["bad_rows"] for f in files.values())
    total_dup = sum(f["exact_duplicates"] for f in files.values())
    lines = [
        "# Sample data (synthetic)",
        "",
        "Synthetic DXA exams in the canonical export format (registry contract §1), made by",
        "`samplegen` (no real patient data). Regenerate, byte for byte, from the repository",
        "root with:",
        "",
        "```",
        manifest["command"],
        "```",
        "",
        f"Seed `{manifest['seed']}`, {manifest['exams_generated']} generated exams, "
        f"bad-row fraction {manifest['bad_fraction']}.",
        "",
        "## Files",
        "",
        "One file per exam period (by the exam date before any corruption); rows in exam-date",
        "order. UTF-8, comma-separated, header in contract order, ISO dates, `.` decimals,",
        "booleans as a per-row mix of true/false, yes/no, Y/N and 1/0, blank = not recorded.",
        "",
        "| file | exam dates | data rows | bad rows | exact duplicates |",
        "|---|---|---|---|---|",
    ]
    for period in periods:
        f = files[period.name]
        lines.append(
            f"| `{period.name}` | {period.first} .. {period.last} | {f['rows']} | "
            f"{f['bad_rows']} | {f['exact_duplicates']} |"
        )
    lines.append(f"| total | | {total_rows} | {total_bad} | {total_dup} |")
    spread = manifest["repeat_patients"]
    lines += [
        "",
        f"Expected after loading all three files: {total_rows - total_bad - total_dup} valid",
        f"exams, {total_bad} quarantined rows, {total_dup} exact duplicate rows loaded once.",
        "",
        "## What is in the data",
        "",
        "- ~80% women; ages mostly 40-90 (a few 20-39, very few 15-19); women's",
        "  `menopausal_status` mostly `post`, `pre` when young, some `peri`, some",
        "  `unknown`/blank; blank for men. Some rows carry only `birth_date` or only",
        "  `age_years`.",
        "- T-scores fall with age (women: mean about -0.5 at 45, -2.5 at 85; SD about 1.0),",
        "  correlated across sites; Z-scores are T minus the age/sex mean; BMD follows T on",
        "  each vendor's reference (Hologic: spine 1.047 + 0.11 T, total hip 0.94 + 0.12 T,",
        "  femoral neck 0.858 + 0.12 T, radius 0.70 + 0.06 T; GE Lunar BMD is higher by",
        "  12% / 6% / 10% at spine / total hip / neck for the same T).",
        "- Not every exam has every site (spine ~90%, hips ~95%, radius 33% ~15%);",
        "  `spine_vertebrae` mostly 4, some 3 or 2, rarely 1 (invalid for diagnosis).",
        "- Risk factors with plausible prevalences and blanks; FRAX blank in ~15%.",
        f"- Repeat exams: {spread['patients_with_repeat_exams']} patients have 2-3 exams 1-3",
        f"  years apart; {spread['in_more_than_one_file']} of them span more than one file,",
        f"  {spread['with_two_exams_in_the_same_file']} have two exams in the same file;",
        f"  {spread['all_on_one_scanner']} stayed on one scanner (serial),",
        f"  {spread['on_more_than_one_scanner']} changed scanner. Later BMD changes by",
        "  -4%..+2% per interval, some beyond the LSC (~5%).",
        "",
        "Scanners:",
        "",
        "| manufacturer | model | serial |",
        "|---|---|---|",
    ]
    lines += [f"| {s.manufacturer} | {s.model} | {s.serial} |" for s in SCANNERS]
    lines += [
        "",
        "## Bad-row manifest",
        "",
        "Injected defects (rows; `conflicting_exam_id` = two rows sharing an exam_id with",
        "different content, both bad; `exact_duplicate` = identical copies of good rows,",
        "duplicates rather than bad rows). `manifest.json` lists every one with its file and",
        "row number (1 = first data row, as in the `quarantine` table).",
        "",
        "| kind | rows | defect |",
        "|---|---|---|",
    ]
    descriptions = {
        "missing_exam_id": "exam_id blank",
        "missing_sex": "sex blank",
        "sex_X": "sex `X`",
        "menopausal_status_sometimes": "menopausal_status `sometimes`",
        "t_score_out_of_range": "a T-score of 12 (outside [-8, 8])",
        "bmd_zero": "a BMD of 0",
        "bmd_too_high": "a BMD of 3.5 g/cm2",
        "age_130": "age_years 130 (birth_date blank)",
        "invalid_exam_date": "exam_date `2024-02-30`",
        "future_exam_date": "exam_date 15 years after the real one (in the future)",
        "birth_after_exam": "birth_date after exam_date (age_years blank)",
        "no_site_scores": "no T- or Z-score at any site (BMDs kept)",
        "non_numeric_number": "`abc` in a number column (weight_kg, femoral_neck_bmd or "
        "frax_major_pct)",
        "bool_maybe": "`maybe` in a boolean column",
        "negative_glucocorticoid_dose": "glucocorticoid_mg_day -5",
        "frax_150": "frax_major_pct 150",
        "conflicting_exam_id": "repeated exam_id, different weight_kg",
        EXACT_DUPLICATE: "identical copy of a good row (not a bad row)",
    }
    for name in (*KINDS, EXACT_DUPLICATE):
        if name in kinds:
            lines.append(f"| `{name}` | {kinds[name]} | {descriptions[name]} |")
    lines += [
        "",
        "| file | row_number | exam_id | kind |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r['file']}` | {r['row_number']} | {r['exam_id'] or '(blank)'} | `{r['kind']}` |"
        for r in manifest["rows"]
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samplegen",
        description="Write synthetic canonical DXA exam CSVs (with bad rows) for the registry.",
    )
    parser.add_argument("--out", type=Path, default=Path("sample_data"))
    parser.add_argument("--seed", type=int, default=20251125)
    parser.add_argument("--exams", type=int, default=3000)
    parser.add_argument("--bad-fraction", type=float, default=0.01)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    args = parser.parse_args(argv)
    manifest = write_sample(
        args.out, args.exams, args.seed, args.bad_fraction, args.start, args.end
    )
    for name, info in manifest["files"].items():
        print(
            f"{args.out / name}: {info['rows']} rows "
            f"({info['bad_rows']} bad, {info['exact_duplicates']} exact duplicates)"
        )
    print("bad-row manifest:")
    for kind, count in manifest["kinds"].items():
        print(f"  {kind}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
