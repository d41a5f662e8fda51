"""The treatment course: flags that follow a patient's drug treatment (quality-measures.md
section 2: TC-DRUG-HOLIDAY, TC-CONTINUE, TC-DENOSUMAB, TC-ANABOLIC-COMPLETE,
TC-FRACTURE-ON-TREATMENT, TC-FAILURE).

Why a step of its own: the flags read what no single rule stage sees together: the exam's
drug and start date, the patient's earlier exams (a fracture recorded at any time; a
fracture new since the start), the serial comparison's `bmd_changes` (TC-FAILURE) and
the very-high-risk flag the decision raises (TC-DRUG-HOLIDAY / TC-CONTINUE). They hold
under every ruleset (`ruleset` is null, as for the serial flags), on the WHO basis: the
T-scores read are the exam's recorded total hip and femoral neck T-scores.

Durations: years on treatment = (exam date - `treatment_start_date`) in days / 365.25, so
">= 5 years" is 1827 days or more (1826.25 days). An exam without a start date has no
duration and raises no duration flag; TC-DENOSUMAB needs none.

"A fragility fracture since the start" (a TC-FRACTURE-ON-TREATMENT and TC-FAILURE
signal): a `last_fracture_date` more than 183 days after the start; only where that date
is blank, a fracture recorded on this exam (a yes, a listed site, a radiographic
vertebral fracture) while the patient's earlier exams made on or after the start date
(at least one) recorded none.

Everything is polars plans (joins, group-bys): no per-row Python.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from schemas.columns import DRUG_HOLIDAY
from schemas.tables import FLAG_SCHEMA
from schemas.vocabulary import Severity
from transforms.rules.declare import Rule

#: Where these rules are decided (shown in the catalog as "decided in").
TREATMENT_COURSE_STEP = "treatment-course step"
ASBMR = "ASBMR task force 2016 (Adler et al.)"
ENDOCRINE = "Endocrine Society 2020"
IOF_FAILURE = "IOF working group on treatment failure (Diez-Perez et al. 2012)"

DAYS_PER_YEAR: Final = 365.25
#: Bisphosphonate course after which a drug holiday is considered (years).
BISPHOSPHONATE_YEARS: Final[dict[str, float]] = {
    "alendronate": 5.0, "risedronate": 5.0, "ibandronate": 5.0, "zoledronate": 3.0,
}
#: Anabolic course length after which an antiresorptive should follow (years).
ANABOLIC_YEARS: Final[dict[str, float]] = {
    "teriparatide": 2.0, "abaloparatide": 2.0, "romosozumab": 1.0,
}
#: Years on treatment before a fracture or a loss counts as failure.
FAILURE_MIN_YEARS: Final = 1.0
#: A fracture counts as on treatment when more than this many days after the start.
FRACTURE_AFTER_START_DAYS: Final = 183
#: T-score at or under which the hip argues for continuing (total hip, femoral neck).
CONTINUE_HIP_T: Final = -2.5

#: The flag codes this step writes.
TREATMENT_COURSE_FLAG_CODES: Final = (
    "DRUG_HOLIDAY_REVIEW", "CONTINUE_THERAPY_REVIEW", "DENOSUMAB_NO_INTERRUPTION",
    "ANABOLIC_COURSE_COMPLETE", "FRACTURE_ON_TREATMENT", "TREATMENT_FAILURE_REVIEW",
)

#: Columns of the batch's exams the step reads.
COURSE_EXAM_COLUMNS: Final = (
    "exam_id", "patient_id", "exam_date", "on_treatment", "treatment_drug",
    "treatment_start_date", "last_fracture_date", "prior_fragility_fracture",
    "prior_fracture_sites", "vertebral_fracture", "total_hip_t", "femoral_neck_t",
)
#: Columns of the patients' earlier exams the step reads (their fractures).
COURSE_HISTORY_COLUMNS: Final = (
    "exam_id", "patient_id", "exam_date", "last_fracture_date", "prior_fragility_fracture",
    "prior_fracture_sites", "vertebral_fracture",
)

_DURATIONS = "alendronate, risedronate or ibandronate for >= 5 years, or zoledronate for >= 3 years"
_YEARS = ("Years on treatment = (exam date - treatment_start_date) in days / 365.25; no "
          "start date, no duration.")
_SINCE_START = (
    "A fracture on treatment: a last_fracture_date more than 183 days after the start; "
    "where that date is blank, a fracture recorded on this exam while the patient's "
    "earlier exams on or after the start date (at least one) recorded none."
)
_FLAG_NOTE = "Under every ruleset (ruleset null), on the WHO basis."

#: The treatment-course rules (quality-measures.md section 2), in its order.
RULES: tuple[Rule, ...] = (
    Rule("TC-DRUG-HOLIDAY", "treatment course",
         f"{_DURATIONS}, and none of: VERY_HIGH_RISK, a total hip or femoral neck T <= -2.5, "
         "a fragility fracture recorded at any time (this exam or an earlier one: a yes, a "
         "listed site, a fracture date, a radiographic vertebral fracture): flag "
         f"DRUG_HOLIDAY_REVIEW (info). {_YEARS} {_FLAG_NOTE}",
         (), ASBMR, implemented_in=TREATMENT_COURSE_STEP),
    Rule("TC-CONTINUE", "treatment course",
         f"The durations of TC-DRUG-HOLIDAY, and one of its conditions holds: flag "
         f"CONTINUE_THERAPY_REVIEW (info). {_FLAG_NOTE}",
         (), ASBMR, implemented_in=TREATMENT_COURSE_STEP),
    Rule("TC-DENOSUMAB", "treatment course",
         "treatment_drug denosumab: flag DENOSUMAB_NO_INTERRUPTION (warning: stopping "
         "without a follow-on drug brings rebound vertebral fractures); the overdue "
         f"worklist lists these patients first. {_FLAG_NOTE}",
         (), f"{ENDOCRINE}; Tsourdi et al. 2017", implemented_in=TREATMENT_COURSE_STEP),
    Rule("TC-ANABOLIC-COMPLETE", "treatment course",
         "teriparatide or abaloparatide for >= 2 years, or romosozumab for >= 1 year: flag "
         f"ANABOLIC_COURSE_COMPLETE (warning: follow with an antiresorptive). {_YEARS} "
         f"{_FLAG_NOTE}",
         (), f"{ENDOCRINE}; labels", implemented_in=TREATMENT_COURSE_STEP),
    Rule("TC-FRACTURE-ON-TREATMENT", "treatment course",
         "On treatment (a drug named, not drug_holiday) for >= 1 year and a fracture on "
         f"treatment: flag FRACTURE_ON_TREATMENT (warning). {_SINCE_START} {_FLAG_NOTE}",
         (), IOF_FAILURE, implemented_in=TREATMENT_COURSE_STEP),
    Rule("TC-FAILURE", "treatment course",
         "On treatment for >= 1 year and two or more signals of: a fracture on treatment "
         "(as TC-FRACTURE-ON-TREATMENT); a significant BMD loss (CHG-LOSS, against the "
         "previous exam or the baseline, one signal per site) against an exam made on or "
         "after the start, at one site; such a loss at a second site: flag "
         "TREATMENT_FAILURE_REVIEW (high). The registry has no bone-turnover markers. "
         f"{_FLAG_NOTE}",
         (), IOF_FAILURE, implemented_in=TREATMENT_COURSE_STEP),
)


def fracture_recorded() -> pl.Expr:
    """An exam records a fragility fracture: a yes, a listed site, a fracture date or a
    radiographic vertebral fracture (blank counts as none)."""
    return (
        pl.col("prior_fragility_fracture").fill_null(False)
        | pl.col("last_fracture_date").is_not_null()
        | (pl.col("prior_fracture_sites").list.len().fill_null(0) > 0)
        | pl.col("vertebral_fracture").fill_null(False)
    )


def very_high_risk_exams(flags: pl.DataFrame) -> pl.DataFrame:
    """(exam_id, very_high_risk) of the exams the decision flagged VERY_HIGH_RISK; an exam
    absent here is not very high risk. Empty when the ruleset raises no such flag."""
    return (flags.filter(pl.col("code") == "VERY_HIGH_RISK").select("exam_id").unique()
            .with_columns(pl.lit(True).alias("very_high_risk")))


def _history_facts(course: pl.LazyFrame, earlier: pl.LazyFrame) -> pl.LazyFrame:
    """Per batch exam, what the patient's other exams say: a fracture on an exam made on
    or before this one (`fracture_before`), and the exams made after the start and before
    this one (`since_start_exams`) and whether any of them recorded a fracture."""
    pairs = course.select("exam_id", "patient_id", "exam_date", "treatment_start_date").join(
        earlier.select(pl.col("exam_id").alias("_other"), "patient_id",
                       pl.col("exam_date").alias("_other_date"),
                       fracture_recorded().alias("_other_fx")),
        on="patient_id",
    ).filter((pl.col("_other") != pl.col("exam_id"))
             & (pl.col("_other_date") <= pl.col("exam_date")))
    since = ((pl.col("_other_date") < pl.col("exam_date"))
             & (pl.col("_other_date") >= pl.col("treatment_start_date"))).fill_null(False)
    return pairs.group_by("exam_id").agg(
        pl.col("_other_fx").any().alias("fracture_before"),
        since.sum().alias("since_start_exams"),
        (since & pl.col("_other_fx")).any().alias("since_start_fx"),
    )


def _loss_sites(course: pl.LazyFrame, changes: pl.DataFrame,
                exam_dates: pl.LazyFrame) -> pl.LazyFrame:
    """Per batch exam, the sites with a significant loss (CHG-LOSS) against an exam made on
    or after the treatment start (previous or baseline: one per site)."""
    prior = exam_dates.select(pl.col("exam_id").alias("prior_exam_id"),
                              pl.col("exam_date").alias("_prior_date"))
    return (
        changes.lazy()
        .filter(pl.col("significant").fill_null(False) & (pl.col("direction") == "decrease"))
        .select("exam_id", "site", "prior_exam_id")
        .join(prior, on="prior_exam_id")
        .join(course.select("exam_id", "treatment_start_date"), on="exam_id")
        .filter(pl.col("_prior_date") >= pl.col("treatment_start_date"))
        .group_by("exam_id").agg(pl.col("site").n_unique().alias("loss_sites"))
    )


def _conditions(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The columns each flag reads: years on treatment and the signals, by name."""
    drug, years = pl.col("treatment_drug"), pl.col("years")
    treated = (drug.is_not_null() & (drug != DRUG_HOLIDAY)) | (
        pl.col("on_treatment").fill_null(False) & drug.is_null())
    fx_date = pl.col("last_fracture_date")
    new_fx = (pl.col("since_start_exams") > 0) & ~pl.col("since_start_fx") & fracture_recorded()
    fx_on_treatment = pl.when(fx_date.is_not_null()).then(
        (fx_date - pl.col("treatment_start_date")).dt.total_days() > FRACTURE_AFTER_START_DAYS
    ).otherwise(new_fx).fill_null(False)
    hip_low = pl.any_horizontal(pl.col("total_hip_t", "femoral_neck_t") <= CONTINUE_HIP_T)
    return frame.with_columns(
        bisphosphonate_course=(years >= drug.replace_strict(
            BISPHOSPHONATE_YEARS, default=None, return_dtype=pl.Float64)).fill_null(False),
        anabolic_course=(years >= drug.replace_strict(
            ANABOLIC_YEARS, default=None, return_dtype=pl.Float64)).fill_null(False),
        long_treated=(treated & (years >= FAILURE_MIN_YEARS)).fill_null(False),
        fx_on_treatment=fx_on_treatment,
        argues_continue=(pl.col("very_high_risk") | hip_low.fill_null(False)
                         | fracture_recorded() | pl.col("fracture_before")),
    )


def _flag(code: str, severity: Severity, when: pl.Expr, detail: pl.Expr) -> pl.Expr:
    """A struct (code, severity, detail) where `when` holds, else null."""
    return pl.when(when).then(pl.struct(
        pl.lit(code).alias("code"), pl.lit(str(severity)).alias("severity"),
        detail.alias("detail"),
    ))


def _course_flags(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per flag raised (exam_id, code, severity, detail; no identifier)."""
    years_text = pl.concat_str(pl.col("treatment_drug"), pl.lit(" for "),
                               pl.col("years").round(1).cast(pl.String), pl.lit(" years"))
    signals = (pl.col("fx_on_treatment").cast(pl.Int32)
               + pl.col("loss_sites").clip(upper_bound=2))
    failure_text = pl.concat_str(
        years_text, pl.lit(": "),
        pl.when("fx_on_treatment").then(pl.lit("fracture on treatment, ")).otherwise(pl.lit("")),
        pl.col("loss_sites").cast(pl.String), pl.lit(" site(s) with significant loss"))
    bisphosphonate = pl.col("bisphosphonate_course")
    flags = [
        _flag("DRUG_HOLIDAY_REVIEW", Severity.INFO,
              bisphosphonate & ~pl.col("argues_continue"), years_text),
        _flag("CONTINUE_THERAPY_REVIEW", Severity.INFO,
              bisphosphonate & pl.col("argues_continue"), years_text),
        _flag("DENOSUMAB_NO_INTERRUPTION", Severity.WARNING,
              pl.col("treatment_drug") == "denosumab", pl.lit("denosumab")),
        _flag("ANABOLIC_COURSE_COMPLETE", Severity.WARNING, pl.col("anabolic_course"),
              years_text),
        _flag("FRACTURE_ON_TREATMENT", Severity.WARNING,
              pl.col("long_treated") & pl.col("fx_on_treatment"), years_text),
        _flag("TREATMENT_FAILURE_REVIEW", Severity.HIGH,
              pl.col("long_treated") & (signals >= 2), failure_text),
    ]
    return (frame.select("exam_id", pl.concat_list(flags).alias("_flag"))
            .explode("_flag").drop_nulls("_flag").unnest("_flag"))


def treatment_course_flags(exams: pl.DataFrame, history: pl.DataFrame,
                           changes: pl.DataFrame, very_high_risk: pl.DataFrame) -> pl.DataFrame:
    """The treatment-course flags of the batch's exams (FLAG_SCHEMA, ruleset null).

    `exams`: the batch (COURSE_EXAM_COLUMNS); `history`: the registry's exams of the same
    patients (COURSE_HISTORY_COLUMNS; a row also in the batch is ignored: the batch's
    version wins); `changes`: the serial comparison's `bmd_changes` of the batch;
    `very_high_risk`: `very_high_risk_exams` of the batch's decision flags. Rows come out
    sorted by exam_id and code.
    """
    course = exams.lazy().select(COURSE_EXAM_COLUMNS).with_columns(
        ((pl.col("exam_date") - pl.col("treatment_start_date")).dt.total_days()
         / DAYS_PER_YEAR).alias("years"))
    earlier = pl.concat([
        history.lazy().select(COURSE_HISTORY_COLUMNS)
        .join(course.select("exam_id"), on="exam_id", how="anti"),
        course.select(COURSE_HISTORY_COLUMNS),
    ], how="vertical_relaxed")
    facts = (
        course.join(_history_facts(course, earlier), on="exam_id", how="left")
        .join(_loss_sites(course, changes, earlier), on="exam_id", how="left")
        .join(very_high_risk.lazy().select("exam_id", "very_high_risk"), on="exam_id",
              how="left")
        .with_columns(pl.col("fracture_before", "since_start_fx", "very_high_risk")
                      .fill_null(False),
                      pl.col("since_start_exams", "loss_sites").fill_null(0))
    )
    return (
        _course_flags(_conditions(facts))
        .with_columns(pl.lit(None, dtype=pl.String).alias("ruleset"))
        .select(pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items())
        .sort("exam_id", "code")
        .collect()
    )
