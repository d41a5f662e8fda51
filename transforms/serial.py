"""Serial exams: compare each new exam's BMD with the patient's previous exam, site by site.

Implements clinical-rules.md §7 (CHG-SAME-SCANNER, CHG-BMD-NOT-T, CHG-LSC, CHG-LOSS).
A monitoring verdict is only meaningful when the difference between two scans exceeds the
scanner's own measurement noise, so:

- only absolute BMD (g/cm2) is compared, never T-scores: T-scores move with reference
  database changes, BMD does not (CHG-BMD-NOT-T);
- a change verdict is given only when both exams were made on the same scanner serial:
  cross-scanner differences include calibration offsets larger than most real changes.
  Otherwise the site gets a `SCANNER_CHANGED` flag and no `changes` row
  (CHG-SAME-SCANNER);
- a change is significant when abs(% change) > LSC = 2.77 x precision of that scanner and
  site (CHG-LSC); a significant decrease is flagged (CHG-LOSS).

Out-of-order arrival: a registry exam dated after a batch exam of the same patient is
judged again (its previous exam may now be the batch exam) and listed in `rejudged`, so
that the registry ends up as if every exam had arrived in date order.

Which exam is "previous" (documented choice): for each batch exam and site with a BMD, the
previous exam is the patient's latest exam with a BMD at that site and a *strictly earlier*
exam_date, taken from history and from the batch itself (so several exams of one patient
in one batch chain: each is compared with the one before it). When several exams share
that latest earlier date, the one with the greatest exam_id is taken, the same "latest"
as the `v_latest_assessment` view (exam_date DESC, exam_id DESC). Two exams on the same
date are never compared with each other (a same-day repeat is a precision measurement,
not a change). A history row whose exam_id is also in the batch is ignored: the batch's
version of that exam wins. Rows with a null patient_id, exam_date or BMD take no part.
(exam_id, site) is assumed unique within each input, as in the `measurements` table.

Numbers (documented choice): pct_change = 100 x (bmd - prior) / prior and lsc_pct are
rounded to 6 decimals before the verdict, so that a change exactly at the LSC (which the
spec says is *not* significant) is not flipped by binary floating-point noise. A prior
BMD that is not positive gives a null pct_change (and so no verdict).

Flags (documented choice): one `SCANNER_CHANGED` flag per exam *and site*, because the
previous exam can differ by site (a site missing from the last exam is compared with an
earlier one, possibly on another scanner); the detail names the site. Loss flags are per
exam and site too. Details carry site names and percentages only, never identifiers.

Everything is one lazy polars plan (sort, shift, joins): no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from schemas.vocabulary import Severity
from transforms.precision import LSC_FACTOR, PrecisionTable
from transforms.rules.declare import ARTICLE, ISCD, SERIAL_STEP, Rule

#: The serial-exam rules this module decides (clinical-rules.md section 7).
RULES: tuple[Rule, ...] = (
    Rule(
        "CHG-SAME-SCANNER", "serial",
        "Compare an exam with the patient's previous exam at the same site only when both "
        "were made on the same scanner (serial number); otherwise flag SCANNER_CHANGED and "
        "no change verdict.",
        (), f"{ARTICLE}; {ISCD}", implemented_in=SERIAL_STEP,
    ),
    Rule(
        "CHG-BMD-NOT-T", "serial",
        "Compare absolute BMD (g/cm2), never T-scores.",
        (), f"{ARTICLE}; {ISCD}", implemented_in=SERIAL_STEP,
    ),
    Rule(
        "CHG-LSC", "serial",
        "LSC = 2.77 x precision error (%CV) of that scanner and site; a change is "
        "significant when abs(% change) > LSC. Default precision: spine 1.9%, total hip "
        "1.8%, femoral neck 2.5%.",
        (), ISCD,
        "Article: fixed LSC 2.8-5.6%. ISCD: 2.77 x the facility's own precision error, "
        "per site.",
        implemented_in=SERIAL_STEP,
    ),
    Rule(
        "CHG-LOSS", "serial",
        "A significant decrease is flagged SIGNIFICANT_BMD_LOSS (warning); on treatment "
        "LOSS_ON_TREATMENT (high).",
        (), ISCD, implemented_in=SERIAL_STEP,
    ),
)

#: Columns both inputs must carry (measurement-level long frames).
INPUT_SCHEMA: Final = {
    "exam_id": pl.String,
    "patient_id": pl.String,
    "exam_date": pl.Date,
    "scanner_serial": pl.String,
    "on_treatment": pl.Boolean,
    "site": pl.String,
    "bmd_g_cm2": pl.Float64,
}

#: The `changes` frame, as the DuckDB table `bmd_changes` holds it (without run_id).
CHANGE_SCHEMA: Final = {
    "exam_id": pl.String,
    "prior_exam_id": pl.String,
    "site": pl.String,
    "bmd_g_cm2": pl.Float64,
    "prior_bmd_g_cm2": pl.Float64,
    "pct_change": pl.Float64,
    "lsc_pct": pl.Float64,
    "significant": pl.Boolean,
    "direction": pl.String,
    "days_between": pl.Int32,
}

#: The `flags` frame, as the DuckDB table `flags` holds it (without run_id).
FLAG_SCHEMA: Final = {
    "exam_id": pl.String,
    "code": pl.String,
    "severity": pl.String,
    "detail": pl.String,
    "ruleset": pl.String,
}

#: Flag codes this module writes: replaced whenever an exam is judged again.
SERIAL_FLAG_CODES: Final = ("SCANNER_CHANGED", "SIGNIFICANT_BMD_LOSS", "LOSS_ON_TREATMENT")

#: Decimals kept for pct_change and lsc_pct (see module docstring).
DECIMALS: Final = 6

_KEY: Final = ("patient_id", "site")


@dataclass(frozen=True)
class SerialResult:
    """Change verdicts (one row per compared exam and site) and the flags they raise.

    `rejudged`: registry exams whose verdicts were worked out again because a new exam
    now sits before them; their earlier verdicts and flags are to be replaced by these.
    """

    changes: pl.DataFrame
    flags: pl.DataFrame
    rejudged: pl.Series


def with_other_exams(batch: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """The batch's exams whose patient has another exam, in the batch or in `history`.

    Exam-level frames (one row per exam), before they are reshaped to one row per site:
    a patient's only exam has no previous exam and is no one's previous, so leaving it
    out changes no verdict, and on a first large load it halves the rows the comparison
    reshapes and sorts (tests/test_serial.py holds the verdicts equal either way).
    `history` holds only the batch's patients (`patient_history`).
    """
    patient = pl.col("patient_id")
    earlier = history.get_column("patient_id").implode()
    return batch.filter((pl.len().over(patient) > 1) | patient.is_in(earlier))


def _prepare(frame: pl.DataFrame, name: str) -> pl.LazyFrame:
    """The comparable rows of an input, with the contract dtypes."""
    missing = [c for c in INPUT_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing columns: {', '.join(missing)}")
    return (
        frame.lazy()
        .select(pl.col(c).cast(t) for c, t in INPUT_SCHEMA.items())
        .filter(
            pl.col("patient_id").is_not_null()
            & pl.col("exam_date").is_not_null()
            & pl.col("site").is_not_null()
            & pl.col("bmd_g_cm2").is_not_null()
        )
    )


def _same_as(offset: int, *cols: str) -> pl.Expr:
    """True where the row `offset` away has equal values in `cols` (False at the edges)."""
    return pl.all_horizontal(pl.col(c) == pl.col(c).shift(offset) for c in cols).fill_null(
        False
    )


def _with_prior(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each row with its previous exam: the latest exam at the same patient and site on
    the latest earlier date (ties on that date: the greatest exam_id).

    Sorted by patient, site, date, exam_id, the row just before the first row of a
    (patient, site, date) group is the last exam of the previous date; every row of the
    group shares it. One sort and a few shifts: no join.
    """
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    day_start = pl.when(~_same_as(1, *_KEY, "exam_date")).then(position).forward_fill()
    has_prior = _same_as(1, *_KEY).gather(pl.col("_day_start"))
    prior_row = (pl.col("_day_start") - 1).clip(0)
    return (
        rows.sort([*_KEY, "exam_date", "exam_id"])
        .with_columns(day_start.alias("_day_start"))
        .with_columns(
            pl.when(has_prior).then(pl.col(c).gather(prior_row)).alias(f"prior_{c}")
            for c in ("exam_id", "exam_date", "scanner_serial", "bmd_g_cm2")
        )
        .drop("_day_start")
    )


def _with_lsc(pairs: pl.LazyFrame, precision: PrecisionTable) -> pl.LazyFrame:
    """Add lsc_pct: the scanner's own precision for the site, else the default, else null."""
    table = precision.as_frame().lazy()
    by_scanner = table.filter(pl.col("scanner_serial").is_not_null()).rename(
        {"precision_pct": "_scanner_pct"}
    )
    default = table.filter(pl.col("scanner_serial").is_null()).select(
        "site", pl.col("precision_pct").alias("_default_pct")
    )
    return (
        pairs.join(by_scanner, on=["scanner_serial", "site"], how="left")
        .join(default, on="site", how="left")
        .with_columns(
            (LSC_FACTOR * pl.coalesce("_scanner_pct", "_default_pct"))
            .round(DECIMALS)
            .alias("lsc_pct")
        )
        .drop("_scanner_pct", "_default_pct")
    )


def compare_serial(
    batch: pl.DataFrame, history: pl.DataFrame, precision: PrecisionTable
) -> SerialResult:
    """Compare every batch exam and site with the patient's previous exam at that site.

    `history` holds the registry's earlier exams of the batch's patients, `batch` the new
    exams of this run; both are measurement-level long frames (INPUT_SCHEMA). Returns the
    same-scanner change verdicts and the SCANNER_CHANGED / loss flags. Rows come out
    sorted (changes by exam_id, site; flags by exam_id, code, detail) so that the result
    does not depend on input row order.
    """
    new = _prepare(batch, "batch").with_columns(pl.lit(True).alias("_judge"))
    old = _prepare(history, "history")
    if history.height:
        # Exams can arrive out of order (a back-filled file, rows not sorted by date): a
        # registry exam dated after a new exam of the same patient may now have another
        # previous exam, so its verdict is worked out again (and replaced by the caller).
        earliest = new.group_by("patient_id").agg(pl.col("exam_date").min().alias("_first"))
        old = (
            old.join(new.select("exam_id").unique(), on="exam_id", how="anti")
            .join(earliest, on="patient_id", how="left")
            .with_columns((pl.col("exam_date") > pl.col("_first")).fill_null(False)
                          .alias("_judge"))
            .drop("_first")
            .cache()
        )
        rows = pl.concat([old, new])
        rejudged = old.filter("_judge").select(pl.col("exam_id").unique().sort())
    else:  # a first load: nothing earlier to compare with or to judge again
        rows = new
        rejudged = pl.LazyFrame(schema={"exam_id": pl.String})
    pairs = (
        _with_prior(rows)
        .filter(pl.col("_judge") & pl.col("prior_exam_id").is_not_null())
        .drop("_judge")
    )
    same_scanner = (
        pl.col("scanner_serial").is_not_null()
        & pl.col("prior_scanner_serial").is_not_null()
        & (pl.col("scanner_serial") == pl.col("prior_scanner_serial"))
    )
    pairs = pairs.with_columns(same_scanner.alias("_same_scanner")).cache()

    pct = (
        pl.when(pl.col("prior_bmd_g_cm2") > 0)
        .then(100 * (pl.col("bmd_g_cm2") - pl.col("prior_bmd_g_cm2")) / pl.col("prior_bmd_g_cm2"))
        .round(DECIMALS)
    )
    significant = pl.col("pct_change").abs() > pl.col("lsc_pct")
    compared = (
        _with_lsc(pairs.filter(pl.col("_same_scanner")), precision)
        .with_columns(pct.alias("pct_change"))
        .with_columns(significant.alias("significant"))
        .with_columns(
            pl.when(pl.col("significant") & (pl.col("pct_change") < 0))
            .then(pl.lit("decrease"))
            .when(pl.col("significant"))
            .then(pl.lit("increase"))
            .when(~pl.col("significant"))
            .then(pl.lit("stable"))
            .alias("direction"),
            (pl.col("exam_date") - pl.col("prior_exam_date"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_between"),
        )
        .cache()
    )
    changes = compared.select(
        pl.col(c).cast(t) for c, t in CHANGE_SCHEMA.items()
    ).sort("exam_id", "site")

    scanner_changed = pairs.filter(~pl.col("_same_scanner")).select(
        "exam_id",
        pl.lit("SCANNER_CHANGED").alias("code"),
        pl.lit(Severity.INFO).alias("severity"),
        pl.when(
            pl.col("scanner_serial").is_not_null() & pl.col("prior_scanner_serial").is_not_null()
        )
        .then(pl.format("{}: previous exam on another scanner", "site"))
        .otherwise(
            pl.format("{}: scanner serial not recorded on this or the previous exam", "site")
        )
        .alias("detail"),
    )
    on_treatment = pl.col("on_treatment").fill_null(False)
    losses = compared.filter(pl.col("direction") == "decrease").select(
        "exam_id",
        pl.when(on_treatment)
        .then(pl.lit("LOSS_ON_TREATMENT"))
        .otherwise(pl.lit("SIGNIFICANT_BMD_LOSS"))
        .alias("code"),
        pl.when(on_treatment)
        .then(pl.lit(Severity.HIGH))
        .otherwise(pl.lit(Severity.WARNING))
        .alias("severity"),
        pl.format(
            "{} {}% (LSC {}%)",
            "site",
            pl.col("pct_change").round(1),
            pl.col("lsc_pct").round(1),
        ).alias("detail"),
    )
    flags = (
        pl.concat([scanner_changed, losses])
        .with_columns(pl.lit(None, dtype=pl.String).alias("ruleset"))
        .select(pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items())
        .sort("exam_id", "code", "detail")
    )
    changes_df, flags_df, rejudged_df = pl.collect_all([changes, flags, rejudged])
    return SerialResult(changes=changes_df, flags=flags_df, rejudged=rejudged_df.to_series())
