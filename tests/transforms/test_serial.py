"""Serial exam comparison (clinical-rules.md §7) and the precision configuration behind it.

Values are asserted exactly: pct_change and lsc_pct are rounded to 6 decimals by design,
so a change exactly at the LSC is reproducibly "not significant".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.measurements import serial_input
from transforms.precision import PrecisionTable, load_precision
from transforms.serial import (
    CHANGE_SCHEMA,
    FLAG_SCHEMA,
    INPUT_SCHEMA,
    compare_serial,
    with_other_exams,
)

Row = tuple[str, str, str, str | None, bool | None, str, float | None]


def frame(*rows: Row) -> pl.DataFrame:
    """Measurement rows: (exam_id, patient_id, date, serial, on_treatment, site, bmd)."""
    return pl.DataFrame(
        [
            (exam, patient, dt.date.fromisoformat(day), serial, treated, site, bmd)
            for exam, patient, day, serial, treated, site, bmd in rows
        ],
        schema=INPUT_SCHEMA,
        orient="row",
    )


EMPTY = frame()


@pytest.fixture(scope="module")
def default() -> PrecisionTable:
    return load_precision()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "precision.toml"
    path.write_text(text, encoding="utf-8")
    return path


def change(result_changes: pl.DataFrame, exam: str, site: str) -> dict:
    rows = result_changes.filter((pl.col("exam_id") == exam) & (pl.col("site") == site))
    assert rows.height == 1
    return rows.row(0, named=True)


# --- change verdicts -------------------------------------------------------------------


def one_change(default: PrecisionTable, bmd: float, site: str = "spine",
               treated: bool | None = False) -> tuple[dict, pl.DataFrame]:
    history = frame(("E1", "P1", "2022-03-01", "S1", False, site, 1.0))
    batch = frame(("E2", "P1", "2024-03-01", "S1", treated, site, bmd))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 1
    return result.changes.row(0, named=True), result.flags


@pytest.mark.parametrize(
    ("bmd", "pct", "significant", "direction"),
    [
        (0.9474, -5.26, False, "stable"),
        (0.94737, -5.263, False, "stable"),  # abs == LSC exactly: not significant
        (0.9473, -5.27, True, "decrease"),
        (1.0526, 5.26, False, "stable"),
        (1.05263, 5.263, False, "stable"),
        (1.0527, 5.27, True, "increase"),
        (1.0, 0.0, False, "stable"),
    ],
)
def test_spine_verdict_on_both_sides_of_the_lsc(
    default: PrecisionTable, bmd: float, pct: float, significant: bool, direction: str
) -> None:
    row, flags = one_change(default, bmd)
    assert row == {
        "exam_id": "E2",
        "prior_exam_id": "E1",
        "site": "spine",
        "bmd_g_cm2": bmd,
        "prior_bmd_g_cm2": 1.0,
        "pct_change": pct,
        "lsc_pct": 5.263,
        "significant": significant,
        "direction": direction,
        "days_between": 731,
    }
    if direction == "decrease":
        assert flags.to_dicts() == [
            {"exam_id": "E2", "code": "SIGNIFICANT_BMD_LOSS", "severity": "warning",
             "detail": "spine -5.3% (LSC 5.3%)", "ruleset": None}
        ]
    else:
        assert flags.height == 0


def test_increase_raises_no_flag(default: PrecisionTable) -> None:
    row, flags = one_change(default, 1.08, site="total_hip")
    assert (row["pct_change"], row["lsc_pct"], row["direction"]) == (8.0, 4.986, "increase")
    assert flags.height == 0


def test_loss_on_treatment_is_high(default: PrecisionTable) -> None:
    row, flags = one_change(default, 0.939, site="total_hip", treated=True)
    assert (row["pct_change"], row["lsc_pct"], row["significant"]) == (-6.1, 4.986, True)
    assert flags.to_dicts() == [
        {"exam_id": "E2", "code": "LOSS_ON_TREATMENT", "severity": "high",
         "detail": "total_hip -6.1% (LSC 5.0%)", "ruleset": None}
    ]


def test_unknown_treatment_is_plain_loss(default: PrecisionTable) -> None:
    _, flags = one_change(default, 0.939, site="total_hip", treated=None)
    assert flags["code"].to_list() == ["SIGNIFICANT_BMD_LOSS"]


def test_femoral_neck_default_lsc(default: PrecisionTable) -> None:
    row, flags = one_change(default, 0.93, site="femoral_neck")
    assert (row["pct_change"], row["lsc_pct"], row["significant"]) == (-7.0, 6.925, True)
    assert flags["detail"].to_list() == ["femoral_neck -7.0% (LSC 6.9%)"]


def test_radius_without_precision_has_no_verdict(default: PrecisionTable) -> None:
    row, flags = one_change(default, 0.5, site="radius_33")
    assert row["pct_change"] == -50.0
    assert row["lsc_pct"] is None
    assert row["significant"] is None
    assert row["direction"] is None
    assert flags.height == 0


def test_per_scanner_precision_override(tmp_path: Path) -> None:
    text = '[default]\nspine = 1.9\n[scanner."HZ-100"]\nspine = 1.2\n'
    table = load_precision(write(tmp_path, text))
    history = frame(
        ("A1", "P1", "2022-01-01", "HZ-100", False, "spine", 1.0),
        ("B1", "P2", "2022-01-01", "OTHER", False, "spine", 1.0),
    )
    batch = frame(
        ("A2", "P1", "2023-01-01", "HZ-100", False, "spine", 0.96),
        ("B2", "P2", "2023-01-01", "OTHER", False, "spine", 0.96),
    )
    result = compare_serial(batch, history, table)
    assert result.changes.select("exam_id", "pct_change", "lsc_pct", "significant").rows() == [
        ("A2", -4.0, 3.324, True),
        ("B2", -4.0, 5.263, False),
    ]
    assert result.flags.to_dicts() == [
        {"exam_id": "A2", "code": "SIGNIFICANT_BMD_LOSS", "severity": "warning",
         "detail": "spine -4.0% (LSC 3.3%)", "ruleset": None}
    ]


# --- scanners ---------------------------------------------------------------------------


def test_scanner_change_flags_and_gives_no_change_row(default: PrecisionTable) -> None:
    history = frame(
        ("E1", "P1", "2022-01-01", "S1", False, "spine", 1.0),
        ("E1", "P1", "2022-01-01", "S1", False, "total_hip", 1.0),
    )
    batch = frame(
        ("E2", "P1", "2023-01-01", "S2", True, "spine", 0.5),
        ("E2", "P1", "2023-01-01", "S2", True, "total_hip", 0.5),
    )
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.changes.schema == pl.Schema(CHANGE_SCHEMA)
    assert result.flags.to_dicts() == [
        {"exam_id": "E2", "code": "SCANNER_CHANGED", "severity": "info",
         "detail": "spine: previous exam on another scanner", "ruleset": None},
        {"exam_id": "E2", "code": "SCANNER_CHANGED", "severity": "info",
         "detail": "total_hip: previous exam on another scanner", "ruleset": None},
    ]


@pytest.mark.parametrize(("old", "new"), [(None, "S1"), ("S1", None), (None, None)])
def test_null_serial_is_an_unknown_scanner(
    default: PrecisionTable, old: str | None, new: str | None
) -> None:
    history = frame(("E1", "P1", "2022-01-01", old, False, "spine", 1.0))
    batch = frame(("E2", "P1", "2023-01-01", new, False, "spine", 0.5))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.flags.to_dicts() == [
        {"exam_id": "E2", "code": "SCANNER_CHANGED", "severity": "info",
         "detail": "spine: scanner serial not recorded on this or the previous exam",
         "ruleset": None}
    ]


# --- which exam is the previous one ------------------------------------------------------


def test_three_exams_in_one_batch_chain(default: PrecisionTable) -> None:
    batch = frame(
        ("E3", "P1", "2024-01-01", "S1", False, "spine", 0.9),
        ("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("E2", "P1", "2022-01-01", "S1", False, "spine", 0.95),
    )
    result = compare_serial(batch, EMPTY, default)
    assert result.changes.select(
        "exam_id", "prior_exam_id", "pct_change", "direction", "days_between"
    ).rows() == [
        ("E2", "E1", -5.0, "stable", 731),
        ("E3", "E2", -5.263158, "decrease", 730),  # just above the 5.263 LSC
    ]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("E3", "SIGNIFICANT_BMD_LOSS", "spine -5.3% (LSC 5.3%)")
    ]


def test_history_and_batch_chain(default: PrecisionTable) -> None:
    history = frame(
        ("H1", "P1", "2018-01-01", "S1", False, "spine", 1.2),
        ("H2", "P1", "2020-01-01", "S1", False, "spine", 1.0),
    )
    batch = frame(
        ("B2", "P1", "2024-01-01", "S1", True, "spine", 0.85),
        ("B1", "P1", "2022-01-01", "S1", True, "spine", 0.9),
    )
    result = compare_serial(batch, history, default)
    columns = ("exam_id", "prior_exam_id", "pct_change", "significant")
    assert result.changes.select(columns).rows() == [
        ("B1", "H2", -10.0, True),
        ("B2", "B1", -5.555556, True),
    ]
    assert result.flags.select("exam_id", "code", "detail").rows() == [
        ("B1", "LOSS_ON_TREATMENT", "spine -10.0% (LSC 5.3%)"),
        ("B2", "LOSS_ON_TREATMENT", "spine -5.6% (LSC 5.3%)"),
    ]


def test_patient_without_previous_exam_gives_nothing(default: PrecisionTable) -> None:
    history = frame(("X1", "OTHER", "2020-01-01", "S1", False, "spine", 1.0))
    batch = frame(("E1", "P1", "2024-01-01", "S1", False, "spine", 0.5))
    result = compare_serial(batch, history, default)
    assert result.changes.height == 0
    assert result.flags.height == 0
    assert result.flags.schema == pl.Schema(FLAG_SCHEMA)


def test_later_history_exam_is_not_a_prior_but_is_judged_again(
    default: PrecisionTable,
) -> None:
    """An exam arriving after a later one (back-fill): the new exam has no prior; the
    registry's later exam now has the new one as its prior and is judged again."""
    history = frame(
        ("H0", "P1", "2020-01-01", "S1", False, "spine", 0.5),
        ("H9", "P1", "2025-01-01", "S1", False, "spine", 1.0),
    )
    batch = frame(("E1", "P1", "2024-01-01", "S1", False, "spine", 0.9))
    result = compare_serial(batch, history, default)
    assert result.changes.select("exam_id", "prior_exam_id").rows() == [
        ("E1", "H0"), ("H9", "E1"),
    ]
    assert result.rejudged.to_list() == ["H9"]  # H0 is earlier: its verdict stands


def test_site_missing_in_previous_exam_uses_latest_exam_with_it(default: PrecisionTable) -> None:
    history = frame(
        ("H1", "P1", "2019-01-01", "S1", False, "total_hip", 1.0),
        ("H1", "P1", "2019-01-01", "S1", False, "spine", 1.1),
        ("H2", "P1", "2021-01-01", "S1", False, "spine", 1.0),
        ("H2", "P1", "2021-01-01", "S1", False, "total_hip", None),  # measured, no BMD
    )
    batch = frame(
        ("E1", "P1", "2023-01-01", "S1", False, "spine", 1.0),
        ("E1", "P1", "2023-01-01", "S1", False, "total_hip", 0.9),
    )
    result = compare_serial(batch, history, default)
    assert result.changes.select("site", "prior_exam_id", "pct_change", "days_between").rows() == [
        ("spine", "H2", 0.0, 730),
        ("total_hip", "H1", -10.0, 1461),
    ]


def test_same_date_ties_take_the_greatest_exam_id(default: PrecisionTable) -> None:
    history = frame(
        ("H-B", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("H-A", "P1", "2020-01-01", "S1", False, "spine", 2.0),
        ("H-0", "P1", "2019-01-01", "S1", False, "spine", 3.0),
    )
    batch = frame(
        ("E2", "P1", "2022-01-01", "S1", False, "spine", 1.0),
        ("E1", "P1", "2022-01-01", "S1", False, "spine", 1.1),
    )
    result = compare_serial(batch, history, default)
    # Same-day exams are never compared with each other; both compare with the latest
    # earlier exam, the tie on 2020-01-01 going to the greatest exam_id (H-B).
    assert result.changes.select("exam_id", "prior_exam_id", "pct_change").rows() == [
        ("E1", "H-B", 10.0),
        ("E2", "H-B", 0.0),
    ]


def test_batch_version_of_an_exam_wins_over_history(default: PrecisionTable) -> None:
    history = frame(
        ("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0),
        ("E2", "P1", "2022-01-01", "S1", False, "spine", 5.0),
    )
    batch = frame(("E2", "P1", "2022-01-01", "S1", False, "spine", 0.9))
    assert compare_serial(batch, history, default).changes.select(
        "exam_id", "prior_exam_id", "pct_change"
    ).rows() == [("E2", "E1", -10.0)]


def test_null_batch_bmd_is_skipped(default: PrecisionTable) -> None:
    history = frame(("E1", "P1", "2020-01-01", "S1", False, "spine", 1.0))
    batch = frame(("E2", "P1", "2022-01-01", "S2", False, "spine", None))
    result = compare_serial(batch, history, default)
    assert (result.changes.height, result.flags.height) == (0, 0)


def test_missing_column_is_named(default: PrecisionTable) -> None:
    with pytest.raises(ValueError, match="history: missing columns: bmd_g_cm2"):
        compare_serial(EMPTY, EMPTY.drop("bmd_g_cm2"), default)


# --- order independence -----------------------------------------------------------------

_SITES = ("spine", "total_hip", "femoral_neck", "radius_33")
_row = st.tuples(
    st.integers(0, 11),  # exam number
    st.sampled_from(_SITES),
    st.sampled_from(["S1", "S2", None]),
    st.one_of(st.none(), st.integers(500, 1500).map(lambda v: v / 1000)),
)


def _exams(draw_rows: list[tuple[int, str, str | None, float | None]]) -> pl.DataFrame:
    """Exam n belongs to patient n % 3, on day n // 2 (so some same-day ties)."""
    seen: set[tuple[int, str]] = set()
    rows: list[Row] = []
    for exam, site, serial, bmd in draw_rows:
        if (exam, site) in seen:
            continue
        seen.add((exam, site))
        day = (dt.date(2020, 1, 1) + dt.timedelta(days=90 * (exam // 2))).isoformat()
        rows.append((f"E{exam:02d}", f"P{exam % 3}", day, serial if exam % 4 else "S1",
                     exam % 2 == 0, site, bmd))
    return frame(*rows)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_row, max_size=40), cut=st.integers(0, 12), seed=st.randoms())
def test_result_does_not_depend_on_row_order(
    default: PrecisionTable, rows: list, cut: int, seed
) -> None:
    exams = _exams(rows)
    number = pl.col("exam_id").str.slice(1).cast(pl.Int32)
    history = exams.filter(number < cut)
    batch = exams.filter(number >= cut)
    first = compare_serial(batch, history, default)
    order_b = list(range(batch.height))
    order_h = list(range(history.height))
    seed.shuffle(order_b)
    seed.shuffle(order_h)
    second = compare_serial(batch[order_b], history[order_h], default)
    assert first.changes.equals(second.changes)
    assert first.flags.equals(second.flags)


# --- leaving out patients with one exam ------------------------------------------------

_exam_row = st.tuples(
    st.integers(0, 5),  # patient
    st.integers(0, 6),  # day (some same-day exams)
    st.sampled_from(["S1", "S2", None]),
    st.tuples(*[st.one_of(st.none(), st.integers(500, 1500).map(lambda v: v / 1000))] * 4),
)


def _exam_level(rows: list, start: int) -> pl.DataFrame:
    """Exam-level frames as the loader holds them (SERIAL_EXAM_COLUMNS)."""
    return pl.DataFrame(
        [
            (f"E{start + n:03d}", f"P{patient}", dt.date(2020, 1, 1) + dt.timedelta(days=60 * day),
             serial, n % 2 == 0, *bmds)
            for n, (patient, day, serial, bmds) in enumerate(rows)
        ],
        schema={"exam_id": pl.String, "patient_id": pl.String, "exam_date": pl.Date,
                "scanner_serial": pl.String, "on_treatment": pl.Boolean,
                **{f"{site}_bmd": pl.Float64 for site in _SITES}},
        orient="row",
    )


@settings(max_examples=80, deadline=None)
@given(batch_rows=st.lists(_exam_row, max_size=14), history_rows=st.lists(_exam_row, max_size=8))
def test_leaving_out_single_exam_patients_changes_no_verdict(
    default: PrecisionTable, batch_rows: list, history_rows: list
) -> None:
    """`with_other_exams` (the loader's pre-filter) gives the very same verdicts, flags and
    re-judged exams as comparing every batch exam."""
    batch = _exam_level(batch_rows, 0)
    history = _exam_level(history_rows, 100)
    history = history.filter(pl.col("patient_id").is_in(batch["patient_id"].implode()))
    every = compare_serial(serial_input(batch), serial_input(history), default)
    some = compare_serial(serial_input(with_other_exams(batch, history)),
                          serial_input(history), default)
    assert some.changes.equals(every.changes)
    assert some.flags.equals(every.flags)
    assert some.rejudged.equals(every.rejudged)


# --- the prior exam against a brute-force reference -------------------------------------


def _reference_pairs(batch: pl.DataFrame, history: pl.DataFrame):
    """Row-by-row reading of the module docstring: which (exam, site) is judged, against
    which prior exam, and which registry exams are judged again."""
    new = [r for r in batch.to_dicts() if r["exam_date"] and r["bmd_g_cm2"] is not None]
    batch_ids = set(batch["exam_id"].to_list())
    old = [r for r in history.to_dicts() if r["exam_date"] and r["bmd_g_cm2"] is not None
           and r["exam_id"] not in batch_ids]
    earliest: dict[str, dt.date] = {}
    for r in new:
        earliest[r["patient_id"]] = min(earliest.get(r["patient_id"], r["exam_date"]),
                                        r["exam_date"])
    later = [r for r in old if r["patient_id"] in earliest
             and r["exam_date"] > earliest[r["patient_id"]]]
    every = new + old
    same_scanner, other_scanner = set(), set()
    for r in new + later:
        earlier = [c for c in every if c["patient_id"] == r["patient_id"]
                   and c["site"] == r["site"] and c["exam_date"] < r["exam_date"]]
        if not earlier:
            continue
        prior = max(earlier, key=lambda c: (c["exam_date"], c["exam_id"]))
        pair = (r["exam_id"], r["site"], prior["exam_id"])
        same = r["scanner_serial"] is not None and r["scanner_serial"] == prior["scanner_serial"]
        (same_scanner if same else other_scanner).add(pair[:2] if not same else pair)
    return same_scanner, other_scanner, sorted({r["exam_id"] for r in later})


_dense_row = st.tuples(  # two sites, BMD always there: many exams meet at a site
    st.integers(0, 11),
    st.sampled_from(["spine", "total_hip"]),
    st.sampled_from(["S1", "S2", None]),
    st.integers(500, 1500).map(lambda v: v / 1000),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.one_of(_dense_row, _row), min_size=3, max_size=40),
       cut=st.integers(0, 12))
def test_prior_exam_matches_a_brute_force_reference(
    default: PrecisionTable, rows: list, cut: int
) -> None:
    """Chains, same-day ties (greatest exam_id), sites missing from the last exam,
    scanner changes and back-filled history: the sort-and-shift search agrees with
    looking at every earlier exam."""
    exams = _exams(rows).with_columns(  # two patients, four exams a day: same-day ties
        pl.format("P{}", pl.col("exam_id").str.slice(1).cast(pl.Int32) % 2).alias("patient_id"),
        (pl.date(2020, 1, 1) + pl.duration(days=90 * (pl.col("exam_id").str.slice(1)
                                                     .cast(pl.Int32) // 4))).alias("exam_date"),
    )
    number = pl.col("exam_id").str.slice(1).cast(pl.Int32)
    history = exams.filter(number < cut)
    batch = exams.filter(number >= cut)
    # a back-fill: some history exams dated after batch exams of the same patient
    history = history.with_columns(
        pl.when(number % 5 == 0).then(pl.col("exam_date") + pl.duration(days=700))
        .otherwise(pl.col("exam_date")).alias("exam_date"))
    same_scanner, other_scanner, rejudged = _reference_pairs(batch, history)
    result = compare_serial(batch, history, default)
    assert set(result.changes.select("exam_id", "site", "prior_exam_id").rows()) == same_scanner
    changed = result.flags.filter(pl.col("code") == "SCANNER_CHANGED")
    assert {(e, d.split(":")[0]) for e, d in changed.select("exam_id", "detail").rows()} == (
        other_scanner)
    assert result.rejudged.to_list() == rejudged
