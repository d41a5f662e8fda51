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

from samplegen.bad_rows import EXACT_DUPLICATE, bad_row_manifest, inject_bad_rows
from samplegen.canonical import (
    DEFAULT_END,
    DEFAULT_START,
    SCHEMA,
    generate_exams,
    to_text,
)
from samplegen.history_situations import add_v3_situations
from samplegen.precision_study import STUDY_FILE, precision_study_exams, precision_truth
from samplegen.sample_readme import readme
from samplegen.situations import situation_counts

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
    typed = _clean_exams(n_exams, seed, start, end)
    return _render(typed, seed, bad_fraction, start, end)


def _clean_exams(n_exams: int, seed: int, start: date, end: date) -> pl.DataFrame:
    """The generated exams (typed, no bad rows) in exam-date order, with the situations
    of rules version 3 added (`samplegen.history_situations`)."""
    exams = generate_exams(n_exams, seed, start_date=start, end_date=end)
    return add_v3_situations(exams, seed)


def _render(
    typed: pl.DataFrame, seed: int, bad_fraction: float, start: date, end: date
) -> tuple[list[Period], pl.DataFrame]:
    """`build_sample` from the clean exams: text cells, file tags, bad rows."""
    periods = split_periods(start, end)
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
    typed = _clean_exams(n_exams, seed, start, end)
    periods, frame = _render(typed, seed, bad_fraction, start, end)
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
    study = precision_study_exams(seed, SCHEMA)
    to_text(study, seed).write_csv(out / STUDY_FILE)
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
        "situations": {
            name: {"count": count, "of": base}
            for name, (count, base) in situation_counts(typed).items()
        },
        "rows": defect_rows,
        "precision_study": {
            "file": STUDY_FILE,
            "rows": study.height,
            "patients": study["patient_id"].n_unique(),
            "true_cv_pct": precision_truth(),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.md").write_text(readme(periods, manifest))
    return manifest


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
