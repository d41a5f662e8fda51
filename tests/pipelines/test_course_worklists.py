"""The treatment course's and the measures' worklists (`dxa export drug-holiday-review`,
`post-fracture-gap`, `treatment-gap`) and denosumab first in `overdue`, on hand-built
registries: each bound on both sides, each list equal to its measure's cases."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from measures_registry import RULESET, build, exam

from pipelines.readers.worklists import export_worklist
from pipelines.registry.store import insert_frame


def listed(db: Path, tmp_path: Path, kind: str, as_of: str) -> list[str]:
    """The patient ids of a list, in its order."""
    out = tmp_path / f"{kind}-{as_of}.parquet"
    export_worklist(kind, db, out, as_of=as_of)
    return pl.read_parquet(out)["patient_id"].to_list()


def flag(db: Path, *rows: tuple[str, str]) -> None:
    """Add (exam_id, code) flags, as a run's treatment-course step writes them."""
    with duckdb.connect(str(db)) as con:
        insert_frame(con, "flags", pl.DataFrame(
            [{"exam_id": e, "code": c, "severity": "info", "detail": "x", "ruleset": None,
              "run_id": "test-run"} for e, c in rows],
            schema_overrides={"ruleset": pl.String}))


def test_treatment_gap_180_days_and_the_year(tmp_path: Path) -> None:
    db = build(tmp_path, [
        exam("A1", "PA", "2024-01-01", treatment="recommended"),
        exam("A2", "PA", "2024-06-29"),                     # 180 days: listed
        exam("B1", "PB", "2024-01-01", treatment="recommended"),
        exam("B2", "PB", "2024-06-28"),                     # 179 days: not yet
        exam("C1", "PC", "2024-01-01", treatment="recommended"),
        exam("C2", "PC", "2024-08-01", on_treatment=True),  # treated: no gap
    ])
    assert listed(db, tmp_path, "treatment-gap", "2024-12-31") == ["PA"]
    assert listed(db, tmp_path, "treatment-gap", "2025-06-28") == ["PA"]  # within the year
    assert listed(db, tmp_path, "treatment-gap", "2025-06-29") == []      # a year later: out
    with duckdb.connect(str(db), read_only=True) as con:
        cases = con.sql("SELECT patient_id FROM quality_measure_cases([{'period_first': "
                        "DATE '2024-01-01', 'period_last': DATE '2024-12-31'}], "
                        f"DATE '2024-12-31', '{RULESET}') WHERE measure_id = "
                        "'QM-TREATMENT-GAP' AND numerator").fetchall()
    assert cases == [("PA",)]


def test_post_fracture_gap_183_days(tmp_path: Path) -> None:
    fx = {"last_fracture_date": "2024-01-01", "prior_fragility_fracture": True}
    db = build(tmp_path, [
        exam("A1", "PA", "2024-07-03", **fx),   # 184 days after: a gap
        exam("B1", "PB", "2024-07-02", **fx),   # 183 days: in time
        exam("C1", "PC", "2024-08-01", on_treatment=True, treatment_start_date="2024-02-01",
             **fx),                             # treated in time
    ])
    assert listed(db, tmp_path, "post-fracture-gap", "2024-12-31") == ["PA"]
    assert listed(db, tmp_path, "post-fracture-gap", "2024-07-03") == ["PA"]
    assert listed(db, tmp_path, "post-fracture-gap", "2024-07-02") == []  # A1 not yet made
    assert listed(db, tmp_path, "post-fracture-gap", "2030-01-01") == ["PA"]  # any year
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.sql("SELECT exam_id, fracture_date, days_fracture_to_exam FROM "
                      "post_fracture_gap_as_of(DATE '2024-12-31')").fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in row] == [("A1", "2024-01-01", 184)]


def test_drug_holiday_review_lists_the_latest_exam_flagged(tmp_path: Path) -> None:
    db = build(tmp_path, [
        exam("A1", "PA", "2023-01-01"), exam("A2", "PA", "2024-01-01"),
        exam("B1", "PB", "2023-01-01"), exam("B2", "PB", "2024-01-01"),
    ])
    flag(db, ("A2", "DRUG_HOLIDAY_REVIEW"), ("B1", "DRUG_HOLIDAY_REVIEW"),
         ("B2", "CONTINUE_THERAPY_REVIEW"))
    assert listed(db, tmp_path, "drug-holiday-review", "2024-06-30") == ["PA"]
    assert listed(db, tmp_path, "drug-holiday-review", "2023-06-30") == ["PB"]


def test_overdue_lists_denosumab_first(tmp_path: Path) -> None:
    db = build(tmp_path, [
        exam("A1", "PA", "2020-01-01", next_dxa_due="2021-01-01"),  # most overdue
        exam("B1", "PB", "2022-01-01", next_dxa_due="2024-01-01"),  # denosumab
        exam("C1", "PC", "2021-01-01", next_dxa_due="2022-01-01"),
    ])
    flag(db, ("B1", "DENOSUMAB_NO_INTERRUPTION"))
    assert listed(db, tmp_path, "overdue", "2024-06-30") == ["PB", "PA", "PC"]
    out = tmp_path / "overdue.csv"
    export_worklist("overdue", db, out, as_of="2024-06-30")
    first = pl.read_csv(out, infer_schema=False).row(0, named=True)
    assert first["denosumab"] == "true"
    assert first["rules_wording"].startswith("MON-OVERDUE: ")
    assert "TC-DENOSUMAB: treatment_drug denosumab" in first["rules_wording"]
