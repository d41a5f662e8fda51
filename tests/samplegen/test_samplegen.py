"""Tests of the synthetic sample-data generator (samplegen)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from samplegen.__main__ import build_sample, split_periods, write_sample
from samplegen.bad_rows import (
    EXACT_DUPLICATE,
    KINDS,
    bad_row_manifest,
    inject_bad_rows,
)
from samplegen.canonical import (
    COLUMNS,
    NOT_GENERATED,
    SCHEMA,
    generate_exams,
    to_text,
    write_canonical_csv,
)
from schemas.columns import CANONICAL_COLUMNS

SEED = 4242


def _age(frame: pl.DataFrame) -> pl.Expr:
    from_birth = ((pl.col("exam_date") - pl.col("birth_date")).dt.total_days() / 365.25).floor()
    return pl.coalesce("age_years", from_birth)


def test_same_seed_same_frame_other_seed_other_ids(exams: pl.DataFrame) -> None:
    assert generate_exams(20_000, SEED).equals(exams)
    other = generate_exams(2_000, SEED + 1)
    assert not other.equals(exams.head(2_000))
    assert set(other["exam_id"]).isdisjoint(exams["exam_id"])


def test_columns_and_types_follow_the_contract(exams: pl.DataFrame) -> None:
    # the contract's columns in contract order, prior_fracture_sites (rules version 2)
    # right after prior_fragility_fracture whether or not the pipeline reads it yet
    # (the treatment-course columns included: NOT_GENERATED is empty)
    assert NOT_GENERATED == ()
    assert [c for c in COLUMNS if c in CANONICAL_COLUMNS] == list(CANONICAL_COLUMNS)
    after = list(COLUMNS)[list(COLUMNS).index("prior_fragility_fracture") + 1]
    assert after == "prior_fracture_sites" and SCHEMA[after] == pl.String  # the cell's text
    assert exams.columns == list(COLUMNS)
    assert exams.schema == SCHEMA
    assert exams.height == 20_000
    assert exams["exam_id"].n_unique() == exams.height
    assert exams["spine_vertebrae"].dtype == pl.Int64
    assert exams["exam_date"].is_between(date(2019, 1, 1), date(2025, 12, 31)).all()
    # every exam has an age or a birth date and at least one site with a T or Z
    assert exams.select(
        pl.any_horizontal(pl.col("age_years", "birth_date").is_not_null()).all()
    ).item()
    scores = [c for c in exams.columns if c.endswith(("_t", "_z"))]
    assert exams.select(pl.any_horizontal(pl.col(scores).is_not_null()).all()).item()
    assert set(exams["sex"].unique()) == {"F", "M"}
    assert 0.75 < (exams["sex"] == "F").mean() < 0.85
    assert (
        exams.filter(pl.col("sex") == "M")["menopausal_status"].null_count()
        == exams.filter(pl.col("sex") == "M").height
    )
    assert set(exams["scanner_manufacturer"].unique()) == {"Hologic", "GE Lunar"}


def test_ages_mostly_40_to_90(exams: pl.DataFrame) -> None:
    age = exams.select(_age(exams)).to_series()
    assert age.is_between(40, 90).mean() > 0.85
    assert (age < 40).sum() > 0
    assert age.min() >= 15


def test_mean_t_falls_with_age(exams: pl.DataFrame) -> None:
    women = exams.filter(pl.col("sex") == "F").with_columns(age=_age(exams))
    young = women.filter(pl.col("age").is_between(40, 50))["femoral_neck_t"].mean()
    old = women.filter(pl.col("age").is_between(80, 90))["femoral_neck_t"].mean()
    assert young > -1.2
    assert old < -2.0
    assert young - old > 1.2
    # T-scores and BMD agree on Hologic (reference 0.858 + 0.12 T at the femoral neck)
    hologic = exams.filter(pl.col("scanner_manufacturer") == "Hologic").drop_nulls("femoral_neck_t")
    implied = 0.858 + 0.12 * hologic["femoral_neck_t"]
    assert ((hologic["femoral_neck_bmd"] - implied).abs() < 0.008).all()


def test_repeat_patients_same_and_different_scanner(exams: pl.DataFrame) -> None:
    per_patient = exams.group_by("patient_id").agg(
        n=pl.len(),
        serials=pl.col("scanner_serial").n_unique(),
        first=pl.col("exam_date").min(),
        last=pl.col("exam_date").max(),
    )
    repeat = per_patient.filter(pl.col("n") > 1)
    share = repeat.height / per_patient.height
    assert 0.2 < share < 0.4
    assert repeat["n"].max() == 3
    assert (
        repeat.filter(pl.col("serials") == 1).height > repeat.filter(pl.col("serials") > 1).height
    )
    assert repeat.filter(pl.col("serials") > 1).height > 0
    gaps = (repeat["last"] - repeat["first"]).dt.total_days()
    assert gaps.min() >= 365


def test_chunked_writer_matches_generate(tmp_path: Path) -> None:
    path = tmp_path / "exams.csv"
    assert write_canonical_csv(path, 2_345, 7, chunk_rows=500) == 2_345
    written = pl.read_csv(path, infer_schema=False)
    assert written.equals(to_text(generate_exams(2_345, 7), 7))


def test_bad_row_injection_about_the_fraction(exams: pl.DataFrame) -> None:
    text = to_text(exams, SEED)
    bad = inject_bad_rows(text, 0.02, SEED, label_column="kind")
    manifest = bad_row_manifest(bad, "kind")
    assert set(manifest) == {*KINDS, EXACT_DUPLICATE}
    n_bad = sum(count for kind, count in manifest.items() if kind != EXACT_DUPLICATE)
    assert 0.018 * text.height <= n_bad <= 0.022 * text.height
    assert manifest[EXACT_DUPLICATE] == 2
    assert bad.height == text.height + manifest["conflicting_exam_id"] // 2 + 2
    # without a label column: same rows, same columns as the input
    plain = inject_bad_rows(text, 0.02, SEED)
    assert plain.columns == text.columns
    assert plain.equals(bad.drop("kind"))
    # exact duplicates are identical to another row
    dup = bad.filter(pl.col("kind") == EXACT_DUPLICATE).drop("kind")
    assert bad.drop("kind").join(dup, on=text.columns, how="semi", nulls_equal=True).height == 4


def test_bad_row_kinds_look_right(exams: pl.DataFrame) -> None:
    bad = inject_bad_rows(to_text(exams.head(2_000), SEED), 0.01, SEED, label_column="kind")

    def rows(kind: str) -> pl.DataFrame:
        return bad.filter(pl.col("kind") == kind)

    assert rows("missing_exam_id")["exam_id"].null_count() == rows("missing_exam_id").height
    assert (rows("sex_X")["sex"] == "X").all()
    assert (rows("invalid_exam_date")["exam_date"] == "2024-02-30").all()
    assert (rows("frax_150")["frax_major_pct"] == "150").all()
    future = rows("future_exam_date")["exam_date"].str.to_date()
    assert (future > date(2030, 1, 1)).all()
    birth_after = rows("birth_after_exam")
    assert (birth_after["birth_date"] > birth_after["exam_date"]).all()
    scores = [c for c in bad.columns if c.endswith(("_t", "_z"))]
    assert (
        rows("no_site_scores").select(pl.all_horizontal(pl.col(scores).is_null())).to_series().all()
    )
    conflicting = rows("conflicting_exam_id")
    assert conflicting["exam_id"].n_unique() * 2 == conflicting.height
    assert conflicting.unique().height == conflicting.height
    unknown = rows("fracture_site_unknown_code")
    assert unknown.height >= 1
    assert set(unknown["prior_fracture_sites"]) <= {"wrist", "hip;femur"}
    assert (unknown["prior_fragility_fracture"] == "yes").all()
    contradict = rows("fracture_sites_contradict")
    assert contradict.height >= 1
    assert (contradict["prior_fragility_fracture"] == "no").all()
    assert (contradict["prior_fracture_sites"] == "vertebral").all()


def test_sample_files_deterministic_and_split(tmp_path: Path) -> None:
    assert [p.name for p in split_periods(date(2019, 1, 1), date(2025, 12, 31))] == [
        "exams_2019_2021.csv",
        "exams_2022_2023.csv",
        "exams_2024_2025.csv",
    ]
    out = tmp_path / "a"
    first = write_sample(out, 600, 11, 0.01)
    names = [*first["files"], "README.md", "manifest.json"]
    before = {name: (out / name).read_bytes() for name in names}
    second = write_sample(out, 600, 11, 0.01)
    assert first == second
    assert {name: (out / name).read_bytes() for name in names} == before
    header = (tmp_path / "a" / "exams_2019_2021.csv").read_text().splitlines()[0]
    assert header.split(",") == list(COLUMNS)
    _, frame = build_sample(600, 11, 0.01)
    repeat = (
        frame.filter(pl.col("_defect").is_null())
        .group_by("patient_id")
        .agg(n=pl.len(), files=pl.col("_file").n_unique())
        .filter(pl.col("n") > 1)
    )
    assert (repeat["files"] > 1).any()
    assert (repeat["files"] < repeat["n"]).any()
    booleans = pl.concat(
        [pl.read_csv(tmp_path / "a" / name, infer_schema=False) for name in first["files"]]
    )["kyphosis"].drop_nulls()
    assert {"true", "false", "yes", "no", "Y", "N", "1", "0"} <= set(booleans)


def test_committed_sample_regenerates_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented commands (sample_data/README.md, VENDOR_README.md) reproduce the
    committed files: the generator and the sample never drift apart."""
    import json

    from samplegen.__main__ import main as sample_main
    from samplegen.apex import main as apex_main
    from samplegen.lunar import main as lunar_main

    committed = Path(__file__).resolve().parents[2] / "sample_data"
    manifest = json.loads((committed / "manifest.json").read_text())
    monkeypatch.chdir(tmp_path)
    args = manifest["command"].split()[3:]  # after "python -m samplegen"
    assert sample_main(args) == 0
    apex_main(["sample_data/apex/hologic_export_2025", "--exams", "80", "--seed", "2025"])
    lunar_main(["sample_data/lunar", "--exams", "48", "--seed", "2026"])
    made = sorted(p.relative_to(tmp_path) for p in (tmp_path / "sample_data").rglob("*")
                  if p.is_file())
    expected = sorted(p.relative_to(committed.parent) for p in committed.rglob("*")
                      if p.is_file() and p.name != "VENDOR_README.md")
    assert made == expected
    for name in made:
        assert (tmp_path / name).read_bytes() == (committed.parent / name).read_bytes(), name
