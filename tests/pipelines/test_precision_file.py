"""`dxa precision --output`: the precision file a run reads, written from the study.

The file round-trips through the pipeline's own loader, a run that reads it judges the
scanner's changes against the facility's own LSC (`lsc_source = 'precision_study'`), an
incomplete study is left to the default and said so, and nothing printed or written names
a patient.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from precision_registry import build_registry, draw_study, load_exams, study_rows

from pipelines import app as application
from pipelines.ingest.settings import resolve_settings
from pipelines.readers.precision_file import notes, precision_toml
from pipelines.readers.precision_study import PrecisionStudy, with_verdicts
from pipelines.registry.store import registry
from transforms.precision import LSC_FACTOR, load_precision

SEED = 7


@pytest.fixture(scope="module")
def registry_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HZ-1: a complete study (30 x 2); HZ-2: an incomplete one (10 x 2)."""
    rng = np.random.default_rng(SEED)
    rows = [*study_rows("HZ-1", draw_study(rng, 30, 2)),
            *study_rows("HZ-2", draw_study(rng, 10, 2))]
    return build_registry(tmp_path_factory.mktemp("precision-file"), rows)


def test_the_written_file_round_trips_through_the_loader(registry_db: Path,
                                                        tmp_path: Path) -> None:
    output = tmp_path / "precision.toml"
    outcome = application.precision(registry_db, output)
    complete = outcome.study.rows.filter(pl.col("scanner_serial") == "HZ-1")
    loaded = load_precision(output)
    assert dict(loaded.scanners["HZ-1"]) == {
        site: round(pct, 3) for site, pct in complete.select("site", "rms_cv_pct").rows()}
    assert set(loaded.scanners) == {"HZ-1"}  # HZ-2's study is incomplete: not written
    assert dict(loaded.defaults) == dict(load_precision().defaults)
    assert outcome.written == 3
    assert outcome.notes == (
        'scanner "HZ-2" spine: study incomplete (10 patients, df 10 of 30): not written, '
        "the default applies (1.9 %)",
        'scanner "HZ-2" femoral_neck: study incomplete (10 patients, df 10 of 30): not '
        "written, the default applies (2.5 %)",
        'scanner "HZ-2" total_hip: study incomplete (10 patients, df 10 of 30): not written, '
        "the default applies (1.8 %)")
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# Precision file written by `dxa precision` on ")
    assert f"# from the registry {json.dumps(str(registry_db))}" in text
    made_at = text.splitlines()[0].rsplit(" ", 1)[1]
    assert dt.datetime.fromisoformat(made_at) == outcome.study.made_at.replace(microsecond=0)
    assert all(f"#   {note}" in text for note in outcome.notes)
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert "SECRET" not in text


def test_a_run_with_the_file_uses_the_facility_lsc(registry_db: Path, tmp_path: Path) -> None:
    """A year later, a patient of each scanner is scanned again: HZ-1's change is judged
    against its own LSC, HZ-2's against the default."""
    output = tmp_path / "precision.toml"
    application.precision(registry_db, output)
    spine = {"spine": np.array([[1.0]])}
    first = [*study_rows("HZ-1", spine, patient_id="SECRET-Q1"),
             *study_rows("HZ-2", spine, patient_id="SECRET-Q2")]
    lower = {"spine": np.array([[0.97]])}
    later = [*study_rows("HZ-1", lower, date="2026-03-04", patient_id="SECRET-Q1",
                         exam_id="SECRET-LATER-1"),
             *study_rows("HZ-2", lower, date="2026-03-04", patient_id="SECRET-Q2",
                         exam_id="SECRET-LATER-2")]
    precision = resolve_settings(precision=str(output)).precision  # as `--precision` does
    with registry(tmp_path / "run.duckdb") as con:
        load_exams(con, tmp_path, "first", first, precision)
        load_exams(con, tmp_path, "later", later, precision)
        changes = con.execute(
            "SELECT e.scanner_serial, c.lsc_pct, c.lsc_source FROM bmd_changes c "
            "JOIN exams e USING (exam_id) WHERE c.site = 'spine' ORDER BY 1").fetchall()
    own = load_precision(output).scanners["HZ-1"]["spine"]
    assert changes == [("HZ-1", round(LSC_FACTOR * own, 6), "precision_study"),
                       ("HZ-2", round(LSC_FACTOR * 1.9, 6), "default")]


def study(rows: dict[str, list]) -> PrecisionStudy:
    """A study from its pooled rows, without a registry."""
    pooled = pl.DataFrame({"patients": [30] * len(rows["site"]), "scans": 60,
                           "rms_sd_g_cm2": 0.01, "lsc_g_cm2": 0.0277, "lsc_pct": 1.0, **rows})
    return PrecisionStudy(Path('/data/"reg"\nistry.duckdb'),
                          dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                          with_verdicts(pooled))


def test_serials_and_paths_are_written_as_toml_strings(tmp_path: Path) -> None:
    serial = 'HZ "7"\\north\n=1'
    made = study({"scanner_serial": [serial, "OK"], "site": ["spine", "radius_33"],
                  "df": [30, 45], "rms_cv_pct": [1.23456, 0.9]})
    path = tmp_path / "precision.toml"
    path.write_text(precision_toml(made), encoding="utf-8")
    loaded = load_precision(path)
    assert dict(loaded.scanners[serial]) == {"spine": 1.235}
    assert dict(loaded.scanners["OK"]) == {"radius_33": 0.9}
    assert "no ISCD minimum" in path.read_text(encoding="utf-8")


def test_a_study_of_identical_scans_is_not_written(tmp_path: Path) -> None:
    """A %CV of 0 (copies of one scan under two exam ids) cannot be a precision: the loader
    refuses it, so it is not written, and said so."""
    made = study({"scanner_serial": ["COPIES", "TINY"], "site": ["spine", "spine"],
                  "df": [30, 30], "rms_cv_pct": [0.0, 0.0006]})
    path = tmp_path / "precision.toml"
    path.write_text(precision_toml(made), encoding="utf-8")
    assert dict(load_precision(path).scanners) == {"TINY": {"spine": 0.001}}
    assert '#   scanner "COPIES" spine: RMS %CV 0 is outside (0, 20]' in path.read_text(
        encoding="utf-8")


def test_a_complete_study_worse_than_iscd_is_written_and_said(tmp_path: Path) -> None:
    """Its LSC is still the scanner's own (wider than the default, so fewer changes pass
    as significant); ISCD's answer to such a precision is retraining, not the default."""
    made = study({"scanner_serial": ["AT", "WORSE"], "site": ["spine", "spine"],
                  "df": [30, 30], "rms_cv_pct": [1.9, 1.95]})
    path = tmp_path / "precision.toml"
    path.write_text(precision_toml(made), encoding="utf-8")
    assert dict(load_precision(path).scanners) == {"AT": {"spine": 1.9},
                                                   "WORSE": {"spine": 1.95}}
    assert notes(made) == [
        'scanner "WORSE" spine: RMS %CV 1.95 does not meet ISCD\'s minimum acceptable '
        "(1.9 %): written (it is this scanner's precision); ISCD advises retraining and a "
        "new study"]
    text = path.read_text(encoding="utf-8")
    assert "spine = 1.950  # LSC 5.40 %; 30 patients, 60 scans, df 30; does NOT meet" in text
