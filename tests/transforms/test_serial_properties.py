"""Serial exam comparison (clinical-rules.md §7) on drawn exams (hypothesis): the result
does not depend on row order, leaving out patients with one exam changes nothing, and the
prior exam and baseline agree with a brute-force reading of the rules."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from serial_frames import Row, frame

from transforms.measurements import serial_input
from transforms.precision import PrecisionTable
from transforms.serial import compare_serial, with_other_exams

# --- order independence -----------------------------------------------------------------

_SITES = ("spine", "total_hip", "femoral_neck", "radius_33")
#: Region draws: hip side (hip sites) or vertebra count (spine; blank = 4).
_HIP_SIDES = ("left", "right", None)
_VERTEBRAE = (None, 4, 3)
_row = st.tuples(
    st.integers(0, 11),  # exam number
    st.sampled_from(_SITES),
    st.sampled_from(["S1", "S2", None]),
    st.one_of(st.none(), st.integers(500, 1500).map(lambda v: v / 1000)),
    st.integers(0, 2),  # region
)


def _region(site: str, draw: int) -> str | int | None:
    if site in ("total_hip", "femoral_neck"):
        return _HIP_SIDES[draw]
    return _VERTEBRAE[draw] if site == "spine" else None


def _exams(draw_rows: list[tuple]) -> pl.DataFrame:
    """Exam n belongs to patient n % 3, on day n // 2 (so some same-day ties)."""
    seen: set[tuple[int, str]] = set()
    rows: list[Row] = []
    for exam, site, serial, bmd, region in draw_rows:
        if (exam, site) in seen:
            continue
        seen.add((exam, site))
        day = (dt.date(2020, 1, 1) + dt.timedelta(days=90 * (exam // 2))).isoformat()
        rows.append((f"E{exam:02d}", f"P{exam % 3}", day, serial if exam % 4 else "S1",
                     exam % 2 == 0, site, bmd, _region(site, region)))
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
    st.sampled_from(_HIP_SIDES),
    st.sampled_from(_VERTEBRAE),
)


def _exam_level(rows: list, start: int) -> pl.DataFrame:
    """Exam-level frames as the loader holds them (SERIAL_EXAM_COLUMNS)."""
    return pl.DataFrame(
        [
            (f"E{start + n:03d}", f"P{patient}", dt.date(2020, 1, 1) + dt.timedelta(days=60 * day),
             serial, n % 2 == 0, *bmds, side, vertebrae)
            for n, (patient, day, serial, bmds, side, vertebrae) in enumerate(rows)
        ],
        schema={"exam_id": pl.String, "patient_id": pl.String, "exam_date": pl.Date,
                "scanner_serial": pl.String, "on_treatment": pl.Boolean,
                **{f"{site}_bmd": pl.Float64 for site in _SITES},
                "hip_side": pl.String, "spine_vertebrae": pl.Int64},
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


# --- prior and baseline against a brute-force reference ---------------------------------


def _comparable(row: dict, other: dict) -> bool:
    """CHG-SAME-REGION read literally: same hip or a side not recorded, same vertebra
    count (blank = 4), the radius as one region."""
    if row["site"] in ("total_hip", "femoral_neck"):
        sides = (row["hip_side"], other["hip_side"])
        return None in sides or sides[0] == sides[1]
    if row["site"] == "spine":
        return (row["vertebrae"] or 4) == (other["vertebrae"] or 4)
    return True


def _verified(row: dict, other: dict) -> bool:
    hip = row["site"] in ("total_hip", "femoral_neck")
    return not hip or (row["hip_side"] is not None and other["hip_side"] is not None)


def _reference(batch: pl.DataFrame, history: pl.DataFrame) -> dict:
    """Row-by-row reading of clinical-rules §7 and the module docstrings: which (exam,
    site) is compared, per comparison, with which exam; which are flagged; which
    registry exams are judged again."""
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
    out: dict = {"pairs": set(), "SCANNER_CHANGED": set(), "REGION_CHANGED": set()}
    order = lambda c: (c["exam_date"], c["exam_id"])  # noqa: E731
    for r in new + later:
        key = (r["exam_id"], r["site"])
        earlier = [c for c in every if c["patient_id"] == r["patient_id"]
                   and c["site"] == r["site"] and c["exam_date"] < r["exam_date"]]
        same = [c for c in earlier
                if r["scanner_serial"] is not None and c["scanner_serial"] == r["scanner_serial"]]
        comparable = [c for c in same if _comparable(r, c)]
        if earlier and not same:
            out["SCANNER_CHANGED"].add(key)
        elif same and not comparable:
            out["REGION_CHANGED"].add(key)
        elif comparable:
            prior, baseline = max(comparable, key=order), min(comparable, key=order)
            out["pairs"].add((*key, "previous", prior["exam_id"], _verified(r, prior)))
            if baseline is not prior:
                out["pairs"].add((*key, "baseline", baseline["exam_id"], _verified(r, baseline)))
    out["rejudged"] = sorted({r["exam_id"] for r in later})
    return out


_dense_row = st.tuples(  # two sites, BMD always there: many exams meet at a site
    st.integers(0, 11),
    st.sampled_from(["spine", "total_hip"]),
    st.sampled_from(["S1", "S2", None]),
    st.integers(500, 1500).map(lambda v: v / 1000),
    st.integers(0, 2),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.one_of(_dense_row, _row), min_size=3, max_size=40),
       cut=st.integers(0, 12))
def test_prior_and_baseline_match_a_brute_force_reference(
    default: PrecisionTable, rows: list, cut: int
) -> None:
    """Chains, same-day ties, sites missing from the last exam, scanner changes, hip
    sides (recorded, flipped, missing), vertebra counts and back-filled history: the
    sort-and-shift search agrees with looking at every earlier exam, per comparison."""
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
    expected = _reference(batch, history)
    result = compare_serial(batch, history, default)
    assert set(result.changes.select(
        "exam_id", "site", "comparison", "prior_exam_id", "region_verified").rows()
    ) == expected["pairs"]
    assert result.changes.select("exam_id", "site", "comparison").is_duplicated().sum() == 0
    for code in ("SCANNER_CHANGED", "REGION_CHANGED"):
        flagged = result.flags.filter(pl.col("code") == code)
        assert {(e, d.split(":")[0]) for e, d in flagged.select("exam_id", "detail").rows()} == (
            expected[code]), code
    losses = result.flags.filter(pl.col("code").is_in(["SIGNIFICANT_BMD_LOSS",
                                                        "LOSS_ON_TREATMENT"]))
    sites = losses.select("exam_id", pl.col("detail").str.split(" ").list.first())
    assert sites.is_duplicated().sum() == 0  # one loss flag per exam and site
    assert result.rejudged.to_list() == expected["rejudged"]
