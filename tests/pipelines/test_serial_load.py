"""Serial comparison through the loader: prior and baseline rows, regions, back-fills,
the LSC's source, batched (staged) loads and migration 010, checked in DuckDB.

Plain load functions (no Prefect): the flow adds nothing to serial comparison.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb
import pytest
from exam_rows import make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.store import migrate, registry
from sources.base import ReadOptions
from sources.detect import Input
from transforms.precision import PrecisionTable, load_precision

CHANGES = ("SELECT exam_id, site, comparison, prior_exam_id, round(pct_change, 2), lsc_source,"
           " direction, region_verified FROM bmd_changes ORDER BY exam_id, site, comparison")
SERIAL_FLAGS = ("SELECT exam_id, code, severity, detail FROM flags WHERE code IN"
                " ('SCANNER_CHANGED', 'REGION_CHANGED', 'SIGNIFICANT_BMD_LOSS',"
                " 'LOSS_ON_TREATMENT') ORDER BY exam_id, code, detail")


def exam(exam_id: str, date: str, spine: float, neck: float, side: str | None,
         **extra: object) -> dict[str, str]:
    return make_row(exam_id=exam_id, patient_id="P-7", exam_date=date, spine_bmd=spine,
                    spine_t=-1.5, spine_z=-0.5, femoral_neck_bmd=neck, hip_side=side,
                    on_treatment="yes", **extra)


def load(con: duckdb.DuckDBPyConnection, folder: Path, name: str, rows: list[dict],
         precision: PrecisionTable, batch_bytes: int | None = None) -> None:
    """Load one CSV as a night's run would; `batch_bytes` forces the staged path (one
    batch per row)."""
    path = write_csv(folder / f"{name}.csv", rows)
    options = ReadOptions() if batch_bytes is None else ReadOptions(batch_bytes=batch_bytes)
    prepared = prepare_input(Input(path, "canonical_csv"), options)
    assert (prepared.large is not None) == (batch_bytes is not None)
    chosen = resolve_ruleset("core-2025")
    load_input(writer_for(con),
               f"run-{name}", chosen.label, prepared, decider_for(chosen), precision)


@pytest.fixture
def study(tmp_path: Path) -> PrecisionTable:
    """The registry's precision file: a study for HZ-100's spine, defaults otherwise."""
    path = tmp_path / "precision.toml"
    path.write_text('[default]\nspine = 1.9\nfemoral_neck = 2.5\n[scanner."HZ-100"]\n'
                    "spine = 1.0\n", encoding="utf-8")
    return load_precision(path)


@pytest.mark.parametrize("batch_bytes", [None, 100], ids=["whole", "staged"])
def test_back_filled_exam_is_the_new_baseline_and_region_check(
    tmp_path: Path, study: PrecisionTable, batch_bytes: int | None
) -> None:
    """Night 1: two exams, -2 % on the spine (under the LSC of 2.77 %). Night 2 brings an
    earlier exam of the other hip: the registry's exams are judged again, the spine now
    against a baseline 6 % higher (LOSS_ON_TREATMENT), the hip flags REGION_CHANGED."""
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "night1", [
            exam("E2", "2022-03-01", 0.96, 0.60, "left"),
            exam("E3", "2024-03-01", 0.9408, 0.59, "left"),
        ], study, batch_bytes)
        assert con.execute(CHANGES).fetchall() == [
            ("E3", "femoral_neck", "previous", "E2", -1.67, "default", "stable", True),
            ("E3", "spine", "previous", "E2", -2.0, "precision_study", "stable", True),
        ]
        assert con.execute(SERIAL_FLAGS).fetchall() == []
        load(con, tmp_path, "night2", [exam("E1", "2020-03-01", 1.0, 0.70, "right"),
                                       make_row(exam_id="X1", patient_id="P-8")],
             study, batch_bytes)
        assert con.execute(CHANGES).fetchall() == [
            ("E2", "spine", "previous", "E1", -4.0, "precision_study", "decrease", True),
            ("E3", "femoral_neck", "previous", "E2", -1.67, "default", "stable", True),
            ("E3", "spine", "baseline", "E1", -5.92, "precision_study", "decrease", True),
            ("E3", "spine", "previous", "E2", -2.0, "precision_study", "stable", True),
        ]
        assert con.execute(SERIAL_FLAGS).fetchall() == [
            ("E2", "LOSS_ON_TREATMENT", "high", "spine -4.0% vs previous (LSC 2.8%)"),
            ("E2", "REGION_CHANGED", "warning",
             "femoral_neck: left hip, earlier exams on this scanner: right hip"),
            ("E3", "LOSS_ON_TREATMENT", "high", "spine -5.9% vs baseline (LSC 2.8%)"),
        ]
        repeated = con.execute("SELECT count(*) FROM (SELECT exam_id, site, comparison"
                               " FROM bmd_changes GROUP BY ALL HAVING count(*) > 1)").fetchone()
        assert repeated == (0,)


def test_hip_side_not_recorded_is_compared_unverified(
    tmp_path: Path, study: PrecisionTable
) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "a", [exam("E1", "2020-03-01", 1.0, 0.70, None),
                                  exam("E2", "2022-03-01", 1.0, 0.63, "left")], study)
        assert con.execute(
            "SELECT exam_id, prior_exam_id, pct_change, region_verified FROM bmd_changes"
            " WHERE site = 'femoral_neck'").fetchall() == [("E2", "E1", -10.0, False)]


def test_vertebra_count_change_through_the_loader(tmp_path: Path, study: PrecisionTable) -> None:
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "a", [
            exam("E1", "2020-03-01", 1.0, 0.70, "left"),  # spine_vertebrae blank: 4
            exam("E2", "2022-03-01", 0.8, 0.70, "left", spine_vertebrae=2),
        ], study)
        assert con.execute(
            "SELECT exam_id, site FROM bmd_changes ORDER BY ALL").fetchall() == [
            ("E2", "femoral_neck")]
        assert con.execute(SERIAL_FLAGS).fetchall() == [
            ("E2", "REGION_CHANGED", "warning",
             "spine: 2 vertebrae, earlier exams on this scanner: 4 vertebrae")]


def test_migration_010_keeps_earlier_verdicts_as_previous_rows(tmp_path: Path) -> None:
    """A registry made before 010: its change rows stay, as `previous` comparisons whose
    LSC source and region check were not recorded then."""
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                " name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    folder = resources.files("pipelines.registry.migrations")
    earlier = sorted(p.name for p in folder.iterdir()
                     if p.name.endswith(".sql") and int(p.name[:3]) < 10)
    for name in earlier:
        con.execute(folder.joinpath(name).read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                    [int(name[:3]), name])
    con.execute("INSERT INTO bmd_changes VALUES ('E2', 'E1', 'spine', 0.9, 1.0, -10.0, 5.263,"
                " true, 'decrease', 730, 'run-1')")
    try:
        assert 10 in migrate(con)
        assert con.execute("SELECT * FROM bmd_changes").fetchall() == [
            ("E2", "spine", "previous", "E1", 0.9, 1.0, -10.0, 5.263, None, True, "decrease",
             730, None, "run-1")]
        assert [c[0] for c in con.execute("DESCRIBE bmd_changes").fetchall()] == [
            "exam_id", "site", "comparison", "prior_exam_id", "bmd_g_cm2", "prior_bmd_g_cm2",
            "pct_change", "lsc_pct", "lsc_source", "significant", "direction", "days_between",
            "region_verified", "run_id"]
    finally:
        con.close()


def test_a_loss_with_no_hip_side_says_region_not_verified_in_flag_and_list(
    tmp_path: Path, study: PrecisionTable
) -> None:
    """CHG-LOSS: a femoral neck loss between exams whose hip side was not recorded; the
    flag and the significant-loss list both say the region was not verified."""
    with registry(tmp_path / "r.duckdb") as con:
        load(con, tmp_path, "night1", [exam("N1", "2022-03-01", 1.0, 0.70, None),
                                       exam("N2", "2024-03-01", 1.0, 0.64, None)], study)
        detail = con.execute("SELECT detail FROM flags WHERE exam_id = 'N2' AND code ="
                             " 'LOSS_ON_TREATMENT'").fetchone()[0]
        losses = con.execute("SELECT losses FROM significant_loss_as_of(DATE '2025-01-01')"
                             ).fetchone()[0]
    assert detail == "femoral_neck -8.6% vs previous (region not verified) (LSC 6.9%)"
    assert losses == detail
