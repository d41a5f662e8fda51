"""The treatment-course flags (quality-measures.md section 2), each duration bound tested on
both sides: 5 years = 1826.25 days (1826 no, 1827 yes), 3 years (1095/1096), 2 years
(730/731), 1 year (365/366), and a fracture 183 days after the start (no) vs 184 (yes)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from schemas.tables import CHANGE_SCHEMA
from transforms.treatment_course import (
    COURSE_EXAM_COLUMNS,
    COURSE_HISTORY_COLUMNS,
    RULES,
    TREATMENT_COURSE_FLAG_CODES,
    treatment_course_flags,
    very_high_risk_exams,
)

START = dt.date(2015, 1, 1)

_SCHEMA = {
    "exam_id": pl.String, "patient_id": pl.String, "exam_date": pl.Date,
    "on_treatment": pl.Boolean, "treatment_drug": pl.String,
    "treatment_start_date": pl.Date, "last_fracture_date": pl.Date,
    "prior_fragility_fracture": pl.Boolean, "prior_fracture_sites": pl.List(pl.String),
    "vertebral_fracture": pl.Boolean, "total_hip_t": pl.Float64, "femoral_neck_t": pl.Float64,
}


def exam(exam_id: str = "E1", *, days: int | None = None, drug: str | None = "alendronate",
         patient: str = "P1", start: dt.date | None = START, **values: object) -> dict:
    """One exam `days` after START (the treatment start by default), no fracture, hip T -1.8."""
    row: dict[str, object] = {
        "exam_id": exam_id, "patient_id": patient,
        "exam_date": START + dt.timedelta(days=days if days is not None else 2000),
        "on_treatment": drug not in (None, "drug_holiday"), "treatment_drug": drug,
        "treatment_start_date": start, "last_fracture_date": None,
        "prior_fragility_fracture": False, "prior_fracture_sites": [],
        "vertebral_fracture": False, "total_hip_t": -1.8, "femoral_neck_t": -2.0,
    }
    row.update(values)
    return row


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=_SCHEMA)


def history(*rows: dict) -> pl.DataFrame:
    return frame(*rows).select(COURSE_HISTORY_COLUMNS)


NO_CHANGES = pl.DataFrame(schema=CHANGE_SCHEMA)
NO_VHR = pl.DataFrame(schema={"exam_id": pl.String, "very_high_risk": pl.Boolean})


def codes(batch: pl.DataFrame, earlier: pl.DataFrame | None = None,
          changes: pl.DataFrame = NO_CHANGES, vhr: pl.DataFrame = NO_VHR) -> dict[str, list[str]]:
    flags = treatment_course_flags(batch, history() if earlier is None else earlier,
                                   changes, vhr)
    assert flags["ruleset"].null_count() == flags.height
    return {e: g["code"].to_list() for (e,), g in flags.group_by("exam_id", maintain_order=True)}


def loss(exam_id: str, site: str, prior: str, *, significant: bool = True,
         direction: str = "decrease") -> dict:
    return {"exam_id": exam_id, "site": site, "comparison": "previous", "prior_exam_id": prior,
            "bmd_g_cm2": 0.8, "prior_bmd_g_cm2": 0.9, "pct_change": -11.1, "lsc_pct": 5.0,
            "lsc_source": "default", "significant": significant, "direction": direction,
            "days_between": 700, "region_verified": True}


@pytest.mark.parametrize(("drug", "short", "long"), [
    ("alendronate", 1826, 1827), ("risedronate", 1826, 1827), ("ibandronate", 1826, 1827),
    ("zoledronate", 1095, 1096),
])
def test_bisphosphonate_course_bounds(drug: str, short: int, long: int) -> None:
    found = codes(frame(exam("A", days=short, drug=drug), exam("B", days=long, drug=drug,
                                                             patient="P2")))
    assert found == {"B": ["DRUG_HOLIDAY_REVIEW"]}


@pytest.mark.parametrize("why", [
    {"total_hip_t": -2.5}, {"femoral_neck_t": -2.5}, {"prior_fragility_fracture": True},
    {"vertebral_fracture": True}, {"prior_fracture_sites": ["forearm"]},
    {"last_fracture_date": START - dt.timedelta(days=400), "prior_fragility_fracture": True},
])
def test_continue_when_a_condition_holds(why: dict) -> None:
    assert codes(frame(exam("A", days=1827, **why))) == {"A": ["CONTINUE_THERAPY_REVIEW"]}


def test_hip_t_just_above_the_bound_is_a_holiday() -> None:
    assert codes(frame(exam("A", days=1827, total_hip_t=-2.4, femoral_neck_t=-2.4))) == {
        "A": ["DRUG_HOLIDAY_REVIEW"]}


def test_very_high_risk_and_an_earlier_fracture_argue_for_continuing() -> None:
    vhr = very_high_risk_exams(pl.DataFrame({
        "exam_id": ["A", "A", "B"], "code": ["VERY_HIGH_RISK", "VERY_HIGH_RISK", "OTHER"]}))
    assert vhr.to_dicts() == [{"exam_id": "A", "very_high_risk": True}]
    earlier = history(exam("OLD", days=-900, patient="P3", prior_fragility_fracture=True))
    found = codes(frame(exam("A", days=1827), exam("B", days=1827, patient="P2"),
                        exam("C", days=1827, patient="P3")), earlier, vhr=vhr)
    assert found == {"A": ["CONTINUE_THERAPY_REVIEW"], "B": ["DRUG_HOLIDAY_REVIEW"],
                     "C": ["CONTINUE_THERAPY_REVIEW"]}


def test_no_start_date_no_duration_flag_but_denosumab_needs_none() -> None:
    found = codes(frame(exam("A", start=None), exam("B", drug="denosumab", start=None,
                                                    patient="P2")))
    assert found == {"B": ["DENOSUMAB_NO_INTERRUPTION"]}


@pytest.mark.parametrize(("drug", "short", "long"), [
    ("teriparatide", 730, 731), ("abaloparatide", 730, 731), ("romosozumab", 365, 366),
])
def test_anabolic_course_bounds(drug: str, short: int, long: int) -> None:
    found = codes(frame(exam("A", days=short, drug=drug), exam("B", days=long, drug=drug,
                                                             patient="P2")))
    assert found == {"B": ["ANABOLIC_COURSE_COMPLETE"]}


def test_drug_holiday_and_other_drugs_raise_nothing() -> None:
    assert codes(frame(exam("A", days=3000, drug="drug_holiday"),
                       exam("B", days=3000, drug="raloxifene", patient="P2"))) == {}


@pytest.mark.parametrize(("fracture_day", "exam_day", "expected"), [
    (183, 400, {}), (184, 400, {"A": ["FRACTURE_ON_TREATMENT"]}),
    (184, 365, {}), (184, 366, {"A": ["FRACTURE_ON_TREATMENT"]}),
])
def test_fracture_on_treatment_bounds(fracture_day: int, exam_day: int, expected: dict) -> None:
    row = exam("A", days=exam_day, drug="raloxifene", prior_fragility_fracture=True,
               last_fracture_date=START + dt.timedelta(days=fracture_day))
    assert codes(frame(row)) == expected


def test_fracture_without_a_date_is_new_only_after_a_fracture_free_exam_since_start() -> None:
    fx = {"drug": "raloxifene", "prior_fragility_fracture": True}
    earlier = history(exam("A0", days=200, drug="raloxifene"),
                      exam("B0", days=-100, drug="raloxifene", patient="P2"),
                      exam("C0", days=200, patient="P3", **fx))
    batch = frame(exam("A", days=700, **fx), exam("B", days=700, patient="P2", **fx),
                  exam("C", days=700, patient="P3", **fx))
    assert codes(batch, earlier) == {"A": ["FRACTURE_ON_TREATMENT"]}


def test_failure_needs_two_signals() -> None:
    earlier = history(exam("A0", days=10, drug="raloxifene", patient="PA"),
                      exam("B0", days=10, drug="raloxifene", patient="PB"),
                      exam("C0", days=-10, drug="raloxifene", patient="PC"),
                      exam("D0", days=10, drug="raloxifene", patient="PD"))
    fx = {"prior_fragility_fracture": True, "last_fracture_date": START + dt.timedelta(days=300)}
    batch = frame(
        exam("A", days=700, drug="raloxifene", patient="PA"),              # two sites lost
        exam("B", days=700, drug="raloxifene", patient="PB", **fx),        # fracture + one site
        exam("C", days=700, drug="raloxifene", patient="PC"),              # losses before start
        exam("D", days=700, drug="raloxifene", patient="PD"),              # one site, two ways
    )
    changes = pl.DataFrame([
        loss("A", "spine", "A0"), loss("A", "total_hip", "A0"),
        loss("B", "spine", "B0"), loss("B", "total_hip", "B0", significant=False),
        loss("C", "spine", "C0"), loss("C", "total_hip", "C0"),
        loss("D", "spine", "D0"), {**loss("D", "spine", "D0"), "comparison": "baseline"},
    ], schema=CHANGE_SCHEMA)
    assert codes(batch, earlier, changes) == {
        "A": ["TREATMENT_FAILURE_REVIEW"],
        "B": ["FRACTURE_ON_TREATMENT", "TREATMENT_FAILURE_REVIEW"],
    }


def test_failure_needs_a_year_on_treatment() -> None:
    earlier = history(exam("A0", days=10, drug="raloxifene"),
                      exam("B0", days=10, drug="raloxifene", patient="P2"))
    batch = frame(exam("A", days=365, drug="raloxifene"),
                  exam("B", days=366, drug="raloxifene", patient="P2"))
    changes = pl.DataFrame([loss(e, s, f"{e}0") for e in "AB" for s in ("spine", "total_hip")],
                           schema=CHANGE_SCHEMA)
    assert codes(batch, earlier, changes) == {"B": ["TREATMENT_FAILURE_REVIEW"]}


def test_declared_rules_and_codes() -> None:
    assert [r.id for r in RULES] == ["TC-DRUG-HOLIDAY", "TC-CONTINUE", "TC-DENOSUMAB",
                                     "TC-ANABOLIC-COMPLETE", "TC-FRACTURE-ON-TREATMENT",
                                     "TC-FAILURE"]
    assert len(TREATMENT_COURSE_FLAG_CODES) == 6
    assert set(COURSE_HISTORY_COLUMNS) <= set(COURSE_EXAM_COLUMNS)
