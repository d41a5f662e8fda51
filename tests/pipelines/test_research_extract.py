"""`dxa export research`: pseudonymised, no identifier of the registry anywhere in it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import duckdb
import polars as pl
import pytest
from sample_registry import shared_sample_copy
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.research import ResearchExportError, export_research, read_key

runner = CliRunner()


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:  # noqa: ANN001
    return shared_sample_copy(tmp_path_factory)


def _key(tmp_path: Path, name: str = "research.key") -> tuple[Path, bytes]:
    key = secrets.token_bytes(32)
    path = tmp_path / name
    path.write_text(key.hex() + "\n", encoding="ascii")
    return path, key


def _extract(copy: Path, key_file: Path, out: Path, **options) -> dict[str, pl.DataFrame]:
    export_research(copy, key_file, out, **options)
    return {t: pl.read_parquet(out.with_name(f"{out.stem}.{t}.parquet"))
            for t in ("exams", "assessments", "bmd_changes")}


def _identifiers(copy: Path) -> list[str]:
    """Every patient id, exam id and full birth date the registry holds."""
    with duckdb.connect(str(copy), read_only=True) as con:
        rows = con.sql("""
            SELECT patient_id FROM exams UNION SELECT exam_id FROM exams
            UNION SELECT prior_exam_id FROM bmd_changes
            UNION SELECT CAST(birth_date AS VARCHAR) FROM exams WHERE birth_date IS NOT NULL
            UNION SELECT exam_id FROM quarantine WHERE exam_id IS NOT NULL""").fetchall()
    return [r[0] for r in rows]


def test_no_identifier_of_the_registry_appears_anywhere(copy: Path, tmp_path: Path) -> None:
    key_file, _ = _key(tmp_path)
    out = tmp_path / "extract.parquet"
    tables = _extract(copy, key_file, out)
    identifiers = _identifiers(copy)
    assert len(identifiers) > 5000
    for name, frame in tables.items():
        assert frame.height > 0
        as_text = frame.select([
            (pl.col(c).list.join(";") if frame.schema[c] == pl.List(pl.String)
             else pl.col(c).cast(pl.String)) for c in frame.columns])
        for column in as_text.columns:
            hit = as_text[column].str.contains_any(identifiers).fill_null(False)
            assert not hit.any(), f"{name}.{column} holds an identifier"
    for path in tmp_path.glob("extract.*.parquet"):  # the bytes too, metadata included
        data = path.read_bytes()
        assert not any(i.encode() in data for i in identifiers), path.name
    exams = tables["exams"]
    assert not {"patient_id", "exam_id", "birth_date", "file_sha256", "run_id"} & set(
        exams.columns)
    assert "prior_exam_id" not in tables["bmd_changes"].columns


def test_pseudonyms_are_hmac_sha256_under_the_key(copy: Path, tmp_path: Path) -> None:
    key_file, key = _key(tmp_path)
    tables = _extract(copy, key_file, tmp_path / "extract.parquet")
    with duckdb.connect(str(copy), read_only=True) as con:
        exams = con.sql("SELECT exam_id, patient_id, birth_date, spine_bmd FROM exams").pl()
        changes = con.sql("SELECT exam_id, prior_exam_id, site FROM bmd_changes").pl()

    def pseudonym(kind: str, value: str) -> str:
        return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    expected = exams.with_columns(
        exam_pseudonym=pl.Series([pseudonym("exam", v) for v in exams["exam_id"]]),
        patient_pseudonym=pl.Series([pseudonym("patient", v) for v in exams["patient_id"]]),
        birth_year=pl.col("birth_date").dt.year().cast(pl.Int16),
    )
    got = tables["exams"].join(expected, on="exam_pseudonym", how="inner")
    assert got.height == exams.height == tables["exams"].height
    assert (got["patient_pseudonym"] == got["patient_pseudonym_right"]).all()
    assert got.select(pl.col("birth_year").eq_missing(pl.col("birth_year_right")).all()).item()
    assert got.select(pl.col("spine_bmd").eq_missing(pl.col("spine_bmd_right")).all()).item()
    prior = {pseudonym("exam", v) for v in changes["prior_exam_id"]}
    assert set(tables["bmd_changes"]["prior_exam_pseudonym"]) == prior
    assert set(tables["assessments"]["exam_pseudonym"]) <= set(tables["exams"]["exam_pseudonym"])
    # One patient, several exams: one pseudonym.
    assert tables["exams"]["patient_pseudonym"].n_unique() == exams["patient_id"].n_unique()


def test_same_key_same_pseudonyms_other_key_no_link(copy: Path, tmp_path: Path) -> None:
    key_file, _ = _key(tmp_path, "a.key")
    other, _ = _key(tmp_path, "b.key")
    first = _extract(copy, key_file, tmp_path / "one.parquet")["exams"]
    again = _extract(copy, key_file, tmp_path / "two.parquet", as_of="2022-12-31")["exams"]
    apart = _extract(copy, other, tmp_path / "three.parquet")["exams"]
    assert 0 < again.height < first.height
    assert set(again["patient_pseudonym"]) <= set(first["patient_pseudonym"])
    assert not set(apart["patient_pseudonym"]) & set(first["patient_pseudonym"])


def test_one_rulesets_assessments(copy: Path, tmp_path: Path) -> None:
    key_file, _ = _key(tmp_path)
    tables = _extract(copy, key_file, tmp_path / "x.parquet", ruleset="core-2025")
    assert set(tables["assessments"]["ruleset"]) == {"core-2025@3"}


@pytest.mark.parametrize(("content", "message"), [
    ("abc123", "the key has 3 bytes; at least 32"),
    ("not hex at all, clearly", "hexadecimal characters only"),
])
def test_a_weak_or_garbled_key_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "k"
    path.write_text(content, encoding="ascii")
    with pytest.raises(ResearchExportError, match=message) as caught:
        read_key(path)
    assert content not in str(caught.value)  # the key never reaches a message


def test_cli_research_needs_the_key_and_writes_three_files(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "extract.parquet"
    missing = runner.invoke(app, ["export", "research", "--db", str(copy), "--output", str(out),
                                  "--pseudonym-key", str(tmp_path / "none.key")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    key_file, _ = _key(tmp_path)
    done = runner.invoke(app, ["export", "research", "--db", str(copy), "--output", str(out),
                               "--pseudonym-key", str(key_file)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.glob("extract.*")) == [
        "extract.assessments.parquet", "extract.bmd_changes.parquet", "extract.exams.parquet"]
    wrong = runner.invoke(app, ["export", "research", "--db", str(copy), "--output",
                                str(tmp_path / "x.csv"), "--pseudonym-key", str(key_file)])
    assert wrong.exit_code == 1 and "ending in .parquet" in wrong.output
