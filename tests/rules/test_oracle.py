"""The vectorized engine agrees with the row-by-row oracle (clinical-rules.md version 3)
on every assessment column and flag, for core-2025@3, bhof-2022@3 and oc-2010@3.

`decide(exams, ruleset)` judges every exam of the frame with the other exams of the same
patient in the frame as its history (section 7a); the oracle does the same patient by
patient (`oracle.decide_all`). How they are compared:

* assessments: every column of `oracle.ASSESSMENT_COLUMNS`; `reasons`, `caroc_reasons`
  and `history_used` as sets (the spec fixes which IDs, not their order); the adjusted
  FRAX values to 1e-9 (the factors may be multiplied in another order);
* flags: `(exam_id, code, severity, ruleset)` as a multiset, and the detail text too for
  the flags of version 2 (`oracle.V2_FLAG_CODES`); the spec does not fix the detail texts
  of version 3's new flags.
* TSCORE-FROM-BMD runs before `decide` in the pipeline: both sides get the rows with the
  oracle's `fill_t_scores` applied (idempotent), so `decide` may compute T-scores itself
  or not; `T_SCORE_NOT_COMPUTED` is expected from `decide` either way.

These tests fail until the version-3 engine and ruleset files land.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from oracle import ASSESSMENT_COLUMNS, V2_FLAG_CODES, add_months, decide_all, fill_t_scores
from strategies import patient_batches

from schemas.columns import CANONICAL_COLUMNS, polars_dtype

RULESET_IDS = ("core-2025", "bhof-2022", "oc-2010")
SET_COLUMNS = ("reasons", "caroc_reasons", "history_used")
FLOAT_COLUMNS = ("frax_major_adjusted", "frax_hip_adjusted")
SCHEMA = {name: polars_dtype(kind) for name, kind in CANONICAL_COLUMNS.items()}
SCHEMA["prior_fracture_sites"] = pl.List(pl.String)


def _ruleset(name: str) -> Any:
    from transforms.rules.ruleset import load_ruleset

    return load_ruleset(name)


def _prepared(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [fill_t_scores(row)[0] for row in rows]


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{c: row.get(c) for c in SCHEMA} for row in rows], schema=SCHEMA)


def _flag_key(flag: dict[str, Any]) -> tuple[Any, ...]:
    detail = flag["detail"] if flag["code"] in V2_FLAG_CODES else None
    return (flag["exam_id"], flag["code"], flag["severity"], flag["ruleset"], detail)


def _normalised(row: dict[str, Any]) -> dict[str, Any]:
    out = {c: row.get(c) for c in ASSESSMENT_COLUMNS}
    for c in SET_COLUMNS:
        out[c] = sorted(out[c] or [])
    for c in FLOAT_COLUMNS:
        if out[c] is not None:
            out[c] = round(out[c], 9)
    return out


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    a, e = _normalised(actual), _normalised(expected)
    for c in FLOAT_COLUMNS:
        if a[c] is not None and e[c] is not None and math.isclose(a[c], e[c], rel_tol=1e-9):
            a[c] = e[c]
    return a == e


def _compare(rows: list[dict[str, Any]], ruleset: Any, *, max_shown: int = 5
             ) -> list[dict[str, Any]]:
    """Assert the engine and the oracle agree on `rows`; returns the oracle's flags."""
    from transforms.rules.decide import decide

    prepared = _prepared(rows)
    decisions = decide(_frame(prepared), ruleset)
    missing = [c for c in ASSESSMENT_COLUMNS if c not in decisions.assessments.columns]
    assert not missing, f"assessment columns missing: {missing}"
    got = decisions.assessments.to_dicts()
    expected, expected_flags = decide_all(prepared, ruleset)
    assert len(got) == len(expected)
    by_id = {row["exam_id"]: row for row in got}
    wrong = [(row, by_id.get(exp["exam_id"]), exp)
             for row, exp in zip(prepared, expected, strict=True)
             if by_id.get(exp["exam_id"]) is None or not _same(by_id[exp["exam_id"]], exp)]
    assert not wrong, (f"{len(wrong)} of {len(expected)} assessments differ; first ones "
                       "(row, engine, oracle):\n" + "\n".join(map(repr, wrong[:max_shown])))
    engine = Counter(map(_flag_key, decisions.flags.to_dicts()))
    oracle = Counter(map(_flag_key, expected_flags))
    assert engine == oracle, (
        f"engine only: {list((engine - oracle).items())[:10]}\n"
        f"oracle only: {list((oracle - engine).items())[:10]}")
    return expected_flags


def test_shipped_rulesets_are_version_3() -> None:
    assert {name: _ruleset(name).label for name in RULESET_IDS} == {
        name: f"{name}@3" for name in RULESET_IDS}


@pytest.mark.parametrize("name", RULESET_IDS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=patient_batches())
def test_engine_matches_oracle(name: str, rows: list[dict[str, Any]]) -> None:
    _compare(rows, _ruleset(name))


@pytest.mark.parametrize("name", RULESET_IDS)
def test_engine_matches_oracle_on_100k_generated_exams(name: str) -> None:
    """100,000 generated exams (patients of 3-5 exams, `samplegen.rules_stress`): the
    engine and the oracle agree on every assessment and flag, and the version-3
    situations all occur."""
    from samplegen.rules_stress import generate_rule_exams

    seed = {"core-2025": 2025, "bhof-2022": 2022, "oc-2010": 2010}[name]
    frame = generate_rule_exams(100_000, seed)
    assert frame.group_by("patient_id").len()["len"].is_between(3, 5).all()
    rows = frame.to_dicts()
    flags = _compare(rows, _ruleset(name))
    codes = {f["code"] for f in flags}
    assert {"VERY_HIGH_RISK", "SAME_DAY_EXAMS", "FRACTURE_HISTORY_CONFLICT",
            "MENOPAUSE_UNKNOWN_LOW_BMD", "T_SCORE_NOT_COMPUTED",
            "GLUCOCORTICOID_RISK_REVIEW", "FRACTURE_ON_Z_BASIS",
            "ON_TREATMENT_NO_INDICATION"} <= codes
    if name == "core-2025":
        assert "VERTEBRAL_FX_NORMAL_BMD" in codes
    if name == "bhof-2022":
        assert "FRACTURE_SITE_UNKNOWN" in codes


def test_generated_exams_reach_every_version_3_rule() -> None:
    """The generator (not the engine): every HX, VHR, FRAX-ADJ and CAROC rule and every
    oc-2010 line fires somewhere in 10,000 exams."""
    from samplegen.rules_stress import generate_rule_exams

    rows = _prepared(generate_rule_exams(10_000, 7).to_dicts())
    seen: set[str] = set()
    for name in RULESET_IDS:
        assessments, _ = decide_all(rows, name)
        for a in assessments:
            seen.update(a["reasons"], a["caroc_reasons"], a["history_used"])
    wanted = {"HX-SAME-DAY", "HX-FRACTURE-PERSISTS", "HX-OSTEOPOROSIS-PERSISTS",
              "HX-CENTRAL-SITE", "VHR-VERY-LOW-T", "VHR-FRAX", "VHR-MULTIPLE-FX",
              "VHR-FX-ON-TREATMENT", "VHR-RECENT-FX", "VHR-FX-GLUCOCORTICOID", "VHR-ESCALATE",
              "FRAX-ADJ-GLUCOCORTICOID", "FRAX-ADJ-SPINE-OFFSET", "CAROC-BASAL",
              "CAROC-SPINE-HIP", "CAROC-FX", "CAROC-GLUCOCORTICOID", "CAROC-BOTH",
              "CAROC-HIP-VERTEBRAL-FX", "OC-HIGH", "OC-MODERATE", "OC-LOW",
              "OC-NOT-COMPUTABLE", "MON-CAROC", "TX-OSTEOPOROSIS-HISTORY",
              "BHOF-OSTEOPOROSIS-HISTORY", "TX-RISK-FEATURES", "VFA-ISCD-2019",
              "GC-RISK-REVIEW", "MENO-UNKNOWN-LOW-BMD"}
    assert wanted - seen == set()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=patient_batches())
def test_oracle_visit_invariants(rows: list[dict[str, Any]]) -> None:
    """The oracle alone: every exam of a visit gets the same decision (HX-SAME-DAY), the
    input order does not matter (history is by date), and each exam has one row."""
    for name in RULESET_IDS:
        assessments, _ = decide_all(rows, name)
        assert [a["exam_id"] for a in assessments] == [r["exam_id"] for r in rows]
        visits: dict[tuple[Any, Any], dict[str, Any]] = {}
        for row, a in zip(rows, assessments, strict=True):
            decision = {k: v for k, v in a.items() if k != "exam_id"}
            key = (row["patient_id"], row["exam_date"])
            assert visits.setdefault(key, decision) == decision
        backwards, _ = decide_all(rows[::-1], name)
        assert sorted(backwards, key=lambda a: a["exam_id"]) == sorted(
            assessments, key=lambda a: a["exam_id"])


def test_oracle_month_arithmetic_clamps() -> None:
    import datetime as dt

    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 12, 31), 24) == dt.date(2027, 12, 31)
