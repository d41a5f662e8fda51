"""The situations of clinical rules version 2 in the generated exams, at their rates.

`samplegen.situations` reads each situation from the contract columns; its definitions
are tested on hand-made exams (both sides of each boundary), then the generator is held
to the rates the sample's README documents. The fracture sites and the scanned regions
are also checked directly on the columns, independently of those definitions.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from samplegen.apex import apex_export
from samplegen.canonical import SCHEMA
from samplegen.history_situations import add_v3_situations
from samplegen.lunar import lunar_twin
from samplegen.situations import SITUATIONS, situation_counts

SEED = 4242
SITE_CODES = {"hip", "vertebral", "humerus", "pelvis", "forearm", "other"}

#: Expected share (percent of exams, or of patients) of each situation, 20 000 exams.
RATES: dict[str, tuple[float, float]] = {
    "fracture_sites_listed": (7.0, 14.0),
    "fracture_site_not_recorded": (2.0, 6.0),
    "hip_side_changed": (1.0, 4.0),
    "hip_side_not_recorded": (2.0, 4.0),
    "vertebra_count_changed": (1.0, 4.0),
    "slow_loss": (1.5, 4.0),
    "slow_loss_on_treatment": (0.3, 1.5),
    "other_scanner_in_between": (0.8, 3.0),
    "on_treatment": (10.0, 25.0),
    "on_treatment_normal_bmd": (1.0, 4.0),
    "on_treatment_low_frax": (2.0, 8.0),
    "vertebral_fracture_normal_bmd": (0.3, 2.0),
    "fracture_on_z_basis": (0.8, 3.0),
    "glucocorticoids_normal_bmd": (0.4, 2.0),
    # version 3 (the frame with `add_v3_situations`)
    "same_day_exams": (4.0, 8.0),
    "fracture_blank_after_yes": (1.5, 4.0),
    "fracture_no_after_yes": (0.2, 1.0),
    "improved_from_osteoporosis": (0.3, 1.5),
    "frax_hip_3_to_5": (10.0, 20.0),
    "glucocorticoid_frax": (1.5, 4.5),
    "spine_hip_offset": (6.0, 13.0),
    "very_low_t": (7.0, 15.0),
    "bmd_only_hologic": (0.1, 0.6),
    "bmd_only_no_manufacturer": (0.05, 0.4),
}


def exam_rows(*rows: dict[str, object]) -> pl.DataFrame:
    """Typed canonical exams from partial rows (other columns null)."""
    base = {name: None for name in SCHEMA}
    return pl.DataFrame([{**base, **row} for row in rows], schema=SCHEMA)


def visits(bmds: list[float], **common: object) -> list[dict[str, object]]:
    """One patient's exams a year apart, on one scanner, with these total hip BMDs."""
    return [
        {
            "exam_id": f"E{i}", "patient_id": "P1", "exam_date": date(2020, 1, 1)
            + timedelta(days=365 * i), "age_years": 70.0, "sex": "F",
            "menopausal_status": "post", "scanner_serial": "S1", "total_hip_bmd": bmd,
            "total_hip_t": -1.5, "hip_side": "left", **common,
        }
        for i, bmd in enumerate(bmds)
    ]


def counts(frame: pl.DataFrame) -> dict[str, int]:
    return {name: count for name, (count, _) in situation_counts(frame).items()}


# --- the definitions, on hand-made exams ---------------------------------------------------


@pytest.mark.parametrize(
    ("bmds", "slow"),
    [
        ([1.000, 0.952, 0.906], True),  # -4.8%, -4.8%: each under 4.99%, -9.4% overall
        ([1.000, 0.949, 0.902], False),  # the first step -5.1%: beyond the LSC at once
        ([1.000, 0.976, 0.953], False),  # -4.7% overall: within the LSC against baseline
        ([1.000, 0.975, 0.949], True),  # -5.1% overall: beyond it
    ],
)
def test_slow_loss_both_sides_of_the_lsc(bmds: list[float], slow: bool) -> None:
    assert counts(exam_rows(*visits(bmds)))["slow_loss"] == int(slow)


def test_slow_loss_needs_one_scanner_and_one_hip() -> None:
    rows = visits([1.000, 0.952, 0.906])
    other_scanner = [dict(r) for r in rows]
    other_scanner[1]["scanner_serial"] = "S2"
    other_hip = [dict(r) for r in rows]
    other_hip[2]["hip_side"] = "right"
    treated = [dict(r, on_treatment=True) for r in rows]
    assert counts(exam_rows(*other_scanner))["slow_loss"] == 0
    assert counts(exam_rows(*other_hip))["slow_loss"] == 0
    assert counts(exam_rows(*treated))["slow_loss_on_treatment"] == 1


def test_region_changes_and_scanner_in_between() -> None:
    rows = visits([1.0, 1.0, 1.0])
    rows[1].update(hip_side=None, scanner_serial="S2", spine_t=-1.0, spine_vertebrae=4)
    rows[2].update(hip_side="right", spine_t=-1.0, spine_vertebrae=3)
    found = counts(exam_rows(*rows))
    assert found["hip_side_not_recorded"] == 1
    assert found["hip_side_changed"] == 1  # right after left (the blank one is skipped)
    assert found["vertebra_count_changed"] == 1
    assert found["other_scanner_in_between"] == 1


@pytest.mark.parametrize(
    ("row", "situation", "expected"),
    [
        ({"on_treatment": True, "total_hip_t": -1.0}, "on_treatment_normal_bmd", 1),
        ({"on_treatment": True, "total_hip_t": -1.1}, "on_treatment_normal_bmd", 0),
        ({"vertebral_fracture": True, "total_hip_t": -1.0}, "vertebral_fracture_normal_bmd", 1),
        ({"vertebral_fracture": True, "total_hip_t": -1.1}, "vertebral_fracture_normal_bmd", 0),
        ({"on_treatment": True, "frax_hip_pct": 2.9, "frax_major_pct": 19.9},
         "on_treatment_low_frax", 1),
        ({"on_treatment": True, "frax_hip_pct": 3.0, "frax_major_pct": 19.9},
         "on_treatment_low_frax", 0),
        ({"glucocorticoid_mg_day": 7.5, "glucocorticoid_months": 3.0, "total_hip_t": 0.0},
         "glucocorticoids_normal_bmd", 1),
        ({"glucocorticoid_mg_day": 5.0, "glucocorticoid_months": 3.0, "total_hip_t": 0.0},
         "glucocorticoids_normal_bmd", 0),
        ({"menopausal_status": "pre", "age_years": 40.0, "prior_fracture_sites": "forearm"},
         "fracture_on_z_basis", 1),
        ({"menopausal_status": "post", "age_years": 40.0, "prior_fracture_sites": "forearm"},
         "fracture_on_z_basis", 0),
        ({"sex": "M", "menopausal_status": None, "age_years": 49.0,
          "vertebral_fracture": True}, "fracture_on_z_basis", 1),
        ({"sex": "M", "menopausal_status": None, "age_years": 50.0,
          "vertebral_fracture": True}, "fracture_on_z_basis", 0),
        ({"prior_fragility_fracture": True}, "fracture_site_not_recorded", 1),
        ({"prior_fragility_fracture": True, "prior_fracture_sites": "hip"},
         "fracture_site_not_recorded", 0),
    ],
)
def test_exam_situations_at_their_boundaries(
    row: dict[str, object], situation: str, expected: int
) -> None:
    exam = visits([0.8], total_hip_t=-2.0)[0] | row
    assert counts(exam_rows(exam))[situation] == expected


# --- the generator, at the documented rates -------------------------------------------


def test_every_situation_occurs_at_its_rate(exams: pl.DataFrame) -> None:
    found = situation_counts(add_v3_situations(exams, SEED))
    assert set(found) == set(RATES) == {s.name for s in SITUATIONS}
    for name, (low, high) in RATES.items():
        count, base = found[name]
        assert low <= 100 * count / base <= high, (name, count, base)
    # the treated slow losers are among the slow losers
    assert 0 < found["slow_loss_on_treatment"][0] < found["slow_loss"][0]


def test_fracture_sites_are_codes_consistent_with_the_fracture(exams: pl.DataFrame) -> None:
    listed = exams.filter(pl.col("prior_fracture_sites").is_not_null())
    codes = listed["prior_fracture_sites"].str.split(";")
    assert set(codes.explode()) == SITE_CODES
    # one or two distinct sites, in contract order
    order = {code: i for i, code in enumerate(["hip", "vertebral", "humerus", "pelvis",
                                               "forearm", "other"])}
    as_index = codes.list.eval(pl.element().replace_strict(order, return_dtype=pl.Int64))
    assert as_index.list.len().is_in([1, 2]).all()
    assert (as_index.list.sort() == as_index).all()
    assert (as_index.list.n_unique() == as_index.list.len()).all()
    assert 0.1 < (as_index.list.len() == 2).mean() < 0.3
    # never beside a recorded "no"; mostly beside "yes", a few beside a blank
    assert listed.filter(pl.col("prior_fragility_fracture") == False).height == 0  # noqa: E712
    assert listed["prior_fragility_fracture"].null_count() > 0
    assert listed["prior_fragility_fracture"].mean() == 1.0
    fractured = exams.filter(pl.col("prior_fragility_fracture"))
    assert 0.6 < fractured["prior_fracture_sites"].is_not_null().mean() < 0.85
    # a patient's sites do not change between visits
    per_patient = listed.group_by("patient_id").agg(pl.col("prior_fracture_sites").n_unique())
    assert (per_patient["prior_fracture_sites"] == 1).all()


def test_usual_hip_and_vertebrae_with_a_few_changes(exams: pl.DataFrame) -> None:
    hips = exams.filter(pl.col("femoral_neck_t").is_not_null())
    assert 0.02 < hips["hip_side"].null_count() / hips.height < 0.04
    assert exams.filter(pl.col("femoral_neck_t").is_null())["hip_side"].null_count() == (
        exams.filter(pl.col("femoral_neck_t").is_null()).height
    )
    first = exams.group_by("patient_id").agg(pl.all().first())
    assert 0.65 < (first.drop_nulls("hip_side")["hip_side"] == "left").mean() < 0.75
    spines = first.drop_nulls("spine_t")["spine_vertebrae"]
    assert spines.null_count() == 0 and 0.8 < (spines == 4).mean() < 0.9
    per_patient = exams.group_by("patient_id").agg(
        sides=pl.col("hip_side").drop_nulls().n_unique(),
        counts=pl.col("spine_vertebrae").drop_nulls().n_unique(),
        n=pl.len(),
    ).filter(pl.col("n") > 1)
    assert 0.03 < (per_patient["sides"] > 1).mean() < 0.2
    assert 0.03 < (per_patient["counts"] > 1).mean() < 0.2


def test_vendor_exports_carry_hip_side_and_vertebrae_for_every_exam(
    exams: pl.DataFrame,
) -> None:
    sample = exams.head(3_000)
    export = apex_export(sample, SEED, qc_scan=False, reanalysis=False)
    scans = export.tables["ScanAnalysis"]
    spine_ids = scans.filter(pl.col("SCAN_TYPE") == "1")["SCANID"]
    refs = export.tables["ReferenceResults"].filter(pl.col("SCANID").is_in(spine_ids.implode()))
    assert refs.height == spine_ids.len() and refs["BONERANGE"].null_count() == 0
    assert export.tables["Spine"]["L1_INCLUDED"].null_count() == 0
    for twin in (export.twin, lunar_twin(sample)):
        hips, spines = twin.drop_nulls("femoral_neck_t"), twin.drop_nulls("spine_t")
        assert hips["hip_side"].null_count() == 0 and spines["spine_vertebrae"].null_count() == 0
    # where the canonical exam records a side or a count, the exports carry it unchanged
    lunar = sample.filter(pl.col("scanner_manufacturer") == "GE Lunar")
    carried = lunar_twin(sample)
    recorded = lunar["hip_side"].is_not_null() & lunar["femoral_neck_t"].is_not_null()
    assert (carried["hip_side"].filter(recorded) == lunar["hip_side"].filter(recorded)).all()
    assert carried["spine_vertebrae"].equals(lunar["spine_vertebrae"])
    hologic = sample.filter(pl.col("scanner_manufacturer") == "Hologic")
    recorded = hologic["hip_side"].is_not_null() & hologic["femoral_neck_t"].is_not_null()
    assert (
        export.twin["hip_side"].filter(recorded) == hologic["hip_side"].filter(recorded)
    ).all()
    # the exports hold patients whose hip side or vertebra count changes between visits
    changed = export.twin.group_by("patient_id").agg(
        pl.col("hip_side").drop_nulls().n_unique() > 1,
        pl.col("spine_vertebrae").drop_nulls().n_unique() > 1,
    )
    assert changed["hip_side"].any() and changed["spine_vertebrae"].any()
