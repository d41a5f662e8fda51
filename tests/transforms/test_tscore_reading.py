"""TSCORE-FROM-BMD through the reading path (parse, T-scores, validation) and into the
rules: a T-score only for a recorded Hologic scanner, the quarantine naming the sites
whose T-score was not computed, and the T_SCORE_NOT_COMPUTED flag."""

from __future__ import annotations

import polars as pl
from exam_rows import make_row

from schemas.columns import CANONICAL_COLUMNS
from transforms.columns import RAW
from transforms.exam_frame import validate_cells
from transforms.quarantine import Split
from transforms.rules.decide import decide
from transforms.rules.ruleset import load_ruleset
from transforms.tscore import t_score_policy, t_score_sources

CORE = load_ruleset("core-2025")
#: The BMDs alone: 0.738 is T -1.0 at the neck, 0.942 is T 0.0 at the total hip (NHANES III).
BMD_ONLY = {"femoral_neck_bmd": "0.738", "femoral_neck_t": "", "femoral_neck_z": "",
            "total_hip_bmd": "0.942"}
NOT_RECORDED = ("scanner_manufacturer is not recorded (the nhanes3 reference applies to "
                "Hologic scanners only)")
ANOTHER = ("scanner_manufacturer is another manufacturer (the nhanes3 reference applies to "
           "Hologic scanners only)")


def _read(*rows: dict[str, str]) -> Split:
    frame = pl.DataFrame(
        {c: [r.get(c, "") for r in rows] for c in CANONICAL_COLUMNS},
        schema=dict.fromkeys(CANONICAL_COLUMNS, pl.String),
    )
    cells = frame.with_row_index("_row_number", offset=1).with_columns(
        pl.col("_row_number").cast(pl.Int64),
        pl.struct(list(CANONICAL_COLUMNS)).struct.json_encode().alias(RAW),
    )
    return validate_cells(cells, tscores=t_score_policy())


def test_a_recorded_hologic_bmd_gets_its_t_score() -> None:
    split = _read(make_row(**BMD_ONLY))
    assert split.rows_quarantined == 0
    exam = split.valid.row(0, named=True)
    assert (exam["femoral_neck_t"], exam["total_hip_t"]) == (-1.0, 0.0)
    assert t_score_sources(split.valid).select("site", "t_score").rows() == [
        ("femoral_neck", -1.0), ("total_hip", 0.0)]
    flags = decide(split.valid, CORE).flags
    assert "T_SCORE_NOT_COMPUTED" not in flags["code"].to_list()


def test_a_blank_manufacturer_bmd_only_row_is_quarantined_naming_the_sites() -> None:
    split = _read(make_row(exam_id="EX-2", scanner_manufacturer="", **BMD_ONLY))
    assert split.rows_loaded == 0 and split.rows_quarantined == 1
    row = split.quarantine.row(0, named=True)
    assert row["exam_id"] == "EX-2"
    assert row["reason_codes"] == ["T_SCORE_NOT_COMPUTED", "NO_SCORED_SITE",
                                   "T_SCORE_NOT_COMPUTED"]
    assert row["errors"] == (
        f"femoral_neck_t: not computed from the BMD: {NOT_RECORDED}; "
        "scores: no site has a T-score or a Z-score; "
        f"total_hip_t: not computed from the BMD: {NOT_RECORDED}")


def test_another_manufacturers_bmd_only_row_is_quarantined_saying_so() -> None:
    split = _read(make_row(scanner_manufacturer="GE Lunar", femoral_neck_bmd="0.738",
                           femoral_neck_t="", femoral_neck_z=""))
    assert split.quarantine["errors"].to_list() == [
        f"femoral_neck_t: not computed from the BMD: {ANOTHER}; "
        "scores: no site has a T-score or a Z-score"]


def test_a_row_with_no_score_and_no_bmd_names_no_site() -> None:
    split = _read(make_row(femoral_neck_bmd="", femoral_neck_t="", femoral_neck_z=""))
    assert split.quarantine["reason_codes"].to_list() == [["NO_SCORED_SITE"]]


def test_z_only_on_the_who_basis_is_not_assessed_and_flagged() -> None:
    """A Z-score keeps the row; the WHO basis finds no T-score: not_assessed."""
    split = _read(make_row(scanner_manufacturer="", **{**BMD_ONLY, "femoral_neck_z": "-1.0"}))
    assert split.rows_loaded == 1
    decisions = decide(split.valid, CORE)
    assessment = decisions.assessments.row(0, named=True)
    assert (assessment["basis"], assessment["treatment"]) == ("not_assessed", "not_applicable")
    flags = {r["code"]: (r["severity"], r["detail"]) for r in decisions.flags.iter_rows(
        named=True)}
    assert flags["NO_DIAGNOSTIC_SITE"][0] == "warning"
    assert flags["T_SCORE_NOT_COMPUTED"] == (
        "info",
        f"femoral_neck: T-score not computed from the BMD: {NOT_RECORDED}; "
        f"total_hip: T-score not computed from the BMD: {NOT_RECORDED}")


def test_the_flag_names_only_the_sites_left_without_a_t_score() -> None:
    split = _read(make_row(scanner_manufacturer="", femoral_neck_t="-2.1",
                           total_hip_bmd="0.942", radius_33_bmd="0.6"))
    flags = decide(split.valid, CORE).flags.filter(pl.col("code") == "T_SCORE_NOT_COMPUTED")
    assert flags["detail"].to_list() == [
        f"total_hip: T-score not computed from the BMD: {NOT_RECORDED}; "
        "radius_33: T-score not computed from the BMD: the nhanes3 reference has no values "
        "for this site"]


def test_registry_exams_without_the_bookkeeping_get_the_same_flag() -> None:
    """`dxa reassess` reads canonical columns back: the rules work the reason out again."""
    split = _read(make_row(scanner_manufacturer="", **{**BMD_ONLY, "femoral_neck_z": "-1.0"}))
    stored = split.valid.select(list(CANONICAL_COLUMNS))
    assert not any(c.startswith("_t_not_computed") for c in stored.columns)
    read_back = decide(stored, CORE).flags
    as_read = decide(split.valid, CORE).flags
    assert read_back.filter(pl.col("code") == "T_SCORE_NOT_COMPUTED").equals(
        as_read.filter(pl.col("code") == "T_SCORE_NOT_COMPUTED"))
    assert read_back.filter(pl.col("code") == "T_SCORE_NOT_COMPUTED").height == 1
