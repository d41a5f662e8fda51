"""Synthetic canonical DXA exams (registry contract §1), vectorised with polars.

`generate_exams` returns a clean, typed frame (no bad rows) with exactly the contract
columns in contract order; vendor emitters (Hologic APEX tables, GE Lunar DICOM) and the
CSV writer all start from it. `to_text` renders it the way a canonical CSV export is
written (ISO dates, `.` decimals, mixed boolean spellings, blanks for "not recorded").

How the data are built (named steps in `samplegen.steps`, run in order by `_build`; all
draws are keyed counter-based random numbers, see `_rng`):

* Patients ``P<seed>-<n>``: ~80% women; age at the first exam mostly 40-95 (mean 64),
  6% 20-39, 1% 15-19. 70% have one exam, 20% two, 10% three, 1-3 years apart; later
  exams are on the patient's usual scanner 80% of the time, otherwise on another one (so
  some patients have an exam on another scanner between two on the usual one).
* Bone density: a patient latent L ~ N(0, 1); first-exam T-score per site =
  mean(age, sex) + site offset + 0.85 L + 0.5 noise (SD ~1.0). Women's mean T is
  -0.5 at 45 and -2.5 at 85; men lose less. BMD is derived from T on a Hologic-equivalent
  reference (spine 1.047 + 0.11 T, total hip 0.94 + 0.12 T, femoral neck 0.858 + 0.12 T,
  radius 0.70 + 0.06 T); GE Lunar devices report that BMD scaled by the vendor factor
  (`LUNAR_SCALE`: spine x1.12, total hip x1.06, femoral neck x1.10) with T unchanged, so
  T stays consistent with BMD on each vendor's own reference, and a vendor change shows a
  BMD jump (why serial comparison needs the same scanner). Later exams multiply BMD by a
  per-interval change of -4%..+2% (treated: -1%..+4%), 15% of intervals change beyond
  the LSC (-10..-5.5%, or +5..+8% on treatment); their T is recomputed from BMD.
  Slow losers (a quarter of the patients with three exams, treated or not) lose
  3.6-4.4% per interval on one scanner and region: under the LSC at each visit, beyond
  it against the baseline. Z = T - mean(age, sex) - site offset + small noise.
* Sites: spine in 90% of exams, hips in 95% (femoral neck always with them, total hip
  98% of those), radius 33% in ~12% (60% when spine or hip is missing); every exam has
  at least one site. Each patient has a usual hip (70% left) and vertebra count (4
  mostly, some 3/2, rare 1); 8% of later exams scan the other hip (BMD ~3% different)
  and 8% another set of vertebrae (~2%); the hip side is blank in 3% of exams.
* Risk questionnaire missing in 10% of exams (all risk fields blank) plus 3% blanks per
  field; FRAX blank in ~15% (and outside ages 40-90). `prior_fracture_sites` (contract
  §1, rules version 2) lists one or two sites for 75% of the patients with a fragility
  fracture, consistent with `prior_fragility_fracture`. `samplegen.situations` counts
  the situations the version-2 rules decide (treated at normal BMD, vertebral fracture
  at normal BMD, fractures on the Z basis, glucocorticoids at normal BMD, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl

from samplegen._rng import Rng
from samplegen.model import LUNAR_SCALE, REFERENCE, SCANNERS, SITES, Scanner
from samplegen.steps import STEPS, Draws
from schemas.columns import CANONICAL_COLUMNS

__all__ = [
    "DEFAULT_END",
    "DEFAULT_START",
    "LUNAR_SCALE",
    "REFERENCE",
    "SCANNERS",
    "SCHEMA",
    "SITES",
    "Scanner",
    "generate_exams",
    "to_text",
    "write_canonical_csv",
]

DEFAULT_START = date(2019, 1, 1)
DEFAULT_END = date(2025, 12, 31)

#: Decimals each numeric column is rounded to (0 = whole numbers).
DECIMALS: dict[str, int] = {
    "age_years": 0,
    "height_cm": 1,
    "weight_kg": 1,
    "bmi": 1,
    "glucocorticoid_mg_day": 1,
    "glucocorticoid_months": 0,
    "parent_hip_fracture_age": 0,
    "height_loss_cm": 1,
    "alcohol_units_day": 1,
    "frax_major_pct": 1,
    "frax_hip_pct": 1,
    **{f"{s}_bmd": 3 for s in SITES},
    **{f"{s}_t": 1 for s in SITES},
    **{f"{s}_z": 1 for s in SITES},
}

_POLARS_TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "number": pl.Float64(),
    "integer": pl.Int64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "codes": pl.String(),  # `;`-separated codes, written as the CSV cell's text
}


#: Contract columns the sample does not hold yet (the treatment course): the committed
#: sample files are written without them, and read as "not recorded".
NOT_GENERATED: tuple[str, ...] = ("treatment_drug", "treatment_start_date",
                                  "last_fracture_date")


def _contract_columns() -> dict[str, str]:
    """The contract's columns and kinds, in contract order: the pipeline's table (less
    `NOT_GENERATED`), plus `prior_fracture_sites` (contract §1, clinical rules version 2)
    after `prior_fragility_fracture` for as long as that table does not list it."""
    generated = {n: k for n, k in CANONICAL_COLUMNS.items() if n not in NOT_GENERATED}
    if "prior_fracture_sites" in generated:
        return generated
    columns: dict[str, str] = {}
    for name, kind in generated.items():
        columns[name] = kind
        if name == "prior_fragility_fracture":
            columns["prior_fracture_sites"] = "text"
    return columns


#: Every column the generator writes with its kind, in contract order.
COLUMNS: dict[str, str] = _contract_columns()

#: The typed schema of `generate_exams` output, in contract order.
SCHEMA: dict[str, pl.DataType] = {name: _POLARS_TYPES[kind] for name, kind in COLUMNS.items()}

# Exams per patient: 1, 2 or 3 with these probabilities (30% have repeats).
_VISIT_WEIGHTS = (0.70, 0.20, 0.10)
_MEAN_VISITS = sum((i + 1) * w for i, w in enumerate(_VISIT_WEIGHTS))


def _visit_plan(seed: int, p_start: int, p_stop: int) -> pl.DataFrame:
    rng = Rng(seed, "p")
    return pl.DataFrame(
        {"p": pl.int_range(p_start, p_stop, dtype=pl.UInt64, eager=True)}
    ).with_columns(n_visits=rng.choice("n_visits", list(_VISIT_WEIGHTS)) + 1)


def _patient_plan(
    seed: int,
    p_start: int,
    p_stop: int,
    exams_before: int,
    want: int,
    remaining: int,
) -> pl.DataFrame:
    """One row per patient (p, n_visits, n_eff, first_exam_no) for the leading patients of
    [p_start, p_stop) whose first exam falls within the first ``want`` exams of the chunk.

    ``exams_before`` exams precede patient ``p_start``; only ``remaining`` more may be made
    in all, so the patient that crosses the total keeps only its first ``n_eff`` visits.
    """
    plan = _visit_plan(seed, p_start, p_stop).with_columns(
        before=pl.col("n_visits").cum_sum() - pl.col("n_visits")
    )
    return plan.filter(pl.col("before") < want).select(
        "p",
        "n_visits",
        n_eff=pl.min_horizontal("n_visits", pl.lit(remaining) - pl.col("before")),
        first_exam_no=pl.col("before") + exams_before,
    )


def _build(plan: pl.DataFrame, seed: int, start: date, end: date) -> pl.DataFrame:
    """All canonical columns for the exams of the patients in ``plan``: the named steps of
    `samplegen.steps`, in order, on one lazy frame."""
    draws = Draws.of(seed, start, end)
    lf = plan.lazy()
    for step in STEPS:
        lf = step(lf, draws)
    return lf.select([pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()]).collect()


def _frames(
    n_exams: int,
    seed: int,
    start: date,
    end: date,
    chunk_rows: int,
) -> Iterator[pl.DataFrame]:
    """Yield the exams in chunks of about ``chunk_rows`` rows (patients never split)."""
    if n_exams < 0:
        raise ValueError("n_exams must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if end < start:
        raise ValueError("end_date is before start_date")
    produced = 0
    p_next = 0
    while produced < n_exams:
        remaining = n_exams - produced
        want = min(chunk_rows, remaining)
        # `want` patients always carry at least `want` exams (each has >= 1).
        plan = _patient_plan(seed, p_next, p_next + want, produced, want, remaining)
        p_next = int(plan["p"].max()) + 1
        produced += int(plan["n_eff"].sum())
        yield _build(plan, seed, start, end)


def generate_exams(
    n_exams: int,
    seed: int,
    *,
    start_date: date = DEFAULT_START,
    end_date: date = DEFAULT_END,
) -> pl.DataFrame:
    """``n_exams`` clean synthetic canonical exams (typed, contract column order).

    Deterministic for a seed. Rows come grouped by patient (a patient's exams in date
    order); exam ids are ``EX<seed>-<9 digits>``, patient ids ``P<seed>-<8 digits>``, so
    frames from different seeds never share ids.
    """
    frames = list(_frames(n_exams, seed, start_date, end_date, max(n_exams, 1)))
    if not frames:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat(frames)


_BOOL_STYLES = (("true", "false"), ("yes", "no"), ("Y", "N"), ("1", "0"))


def to_text(frame: pl.DataFrame, seed: int, *, row_offset: int = 0) -> pl.DataFrame:
    """Render a typed canonical frame as CSV-ready strings (null = blank cell).

    ISO dates, `.` decimals rounded per `DECIMALS`, integers without decimals, booleans
    in a per-row mix of true/false, yes/no, Y/N and 1/0 (drawn from ``seed`` and the row
    number + ``row_offset``, so chunked rendering matches rendering in one piece).
    Columns other than the canonical ones are passed through unchanged.
    """
    rng = Rng(seed, pl.int_range(pl.len(), dtype=pl.UInt64) + row_offset)
    style = rng.choice("bool_style", [0.4, 0.2, 0.2, 0.2])
    yes = style.replace_strict({i: w[0] for i, w in enumerate(_BOOL_STYLES)})
    no = style.replace_strict({i: w[1] for i, w in enumerate(_BOOL_STYLES)})
    exprs: list[pl.Expr] = []
    for name in frame.columns:
        kind = COLUMNS.get(name)
        col = pl.col(name)
        if kind in (None, "text", "codes"):
            exprs.append(col)
        elif kind == "date":
            exprs.append(col.dt.to_string("%Y-%m-%d"))
        elif kind == "integer":
            exprs.append(col.cast(pl.String))
        elif kind == "number":
            digits = DECIMALS.get(name, 3)
            if digits == 0:
                exprs.append(col.round(0).cast(pl.Int64).cast(pl.String))
            else:
                exprs.append((col.round(digits) + 0.0).cast(pl.String))
        else:  # bool
            exprs.append(
                pl.when(col.is_null())
                .then(pl.lit(None, dtype=pl.String))
                .when(col)
                .then(pl.col("__yes"))
                .otherwise(pl.col("__no"))
                .alias(name)
            )
    return frame.with_columns(__yes=yes, __no=no).select(exprs)


def write_canonical_csv(
    path: str | Path,
    n_exams: int,
    seed: int,
    chunk_rows: int = 1_000_000,
    *,
    start_date: date = DEFAULT_START,
    end_date: date = DEFAULT_END,
) -> int:
    """Stream ``n_exams`` clean exams to one canonical CSV in chunks; return rows written.

    Memory stays bounded by ``chunk_rows``; the file holds exactly the rows of
    ``generate_exams(n_exams, seed)`` rendered by `to_text`, in the same order.
    """
    path = Path(path)
    written = 0
    with path.open("wb") as handle:
        handle.write((",".join(SCHEMA) + "\n").encode())
        for frame in _frames(n_exams, seed, start_date, end_date, chunk_rows):
            to_text(frame, seed, row_offset=written).write_csv(handle, include_header=False)
            written += frame.height
    return written
