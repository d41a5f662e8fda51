"""`dxa prevalence`: osteoporosis and low bone mass prevalence from the registry.

WHO categories from the lowest T-score among the chosen sites (an exam counts only with
a T-score at every chosen site, as NCHS Data Brief No. 405 counts persons with valid
femur neck and lumbar spine data), the cut-offs of a ruleset (`diagnosis.osteoporosis_t`,
`diagnosis.normal_t`), weighted by the survey design (`survey_design`) or unweighted,
directly age-standardised to a standard population. The estimator is in
`transforms.survey`, the standards in `transforms.standardise`. Output holds counts and
percentages only, never an identifier.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.readers.access import reading
from pipelines.registry.store import query
from schemas.errors import RegistryError
from sources.nhanes import weight_variable
from transforms.standardise import DEFAULT_BREAKS, band_of, band_shares, bands, standard
from transforms.survey import (
    CI_METHODS,
    PSU,
    STRATUM,
    WEIGHT,
    Estimate,
    lonely_strata,
    standardised_proportion,
)

SITES = ("spine", "femoral_neck", "total_hip", "radius_33")
BY = ("sex", "age_group")
BAND = "_band"
STD_BAND = "_std_band"  # the band estimates are standardised over ("all" when crude)


#: What one counted unit is: each patient once (their latest exam), or every exam.
PER = ("patient", "exam")


class PrevalenceError(RegistryError):
    """A request the registry cannot answer (named in the message, no data values)."""


@dataclass(frozen=True)
class PrevalenceRequest:
    """What to estimate. `per`/`period`: which exams count (see `_selection`)."""

    db: Path
    min_age: float = 50.0
    sites: tuple[str, ...] = ("femoral_neck", "spine")
    by: tuple[str, ...] = ()
    standard: str = "us2000"
    weights: str = "survey"
    osteoporosis_t: float = -2.5
    normal_t: float = -1.0
    ci: str = CI_METHODS[0]
    per: str = PER[0]
    period: tuple[dt.date, dt.date] | None = None  # first and last day, both counted


@dataclass
class PrevalenceResult:
    overall: dict
    groups: list[dict]
    notes: list[str] = field(default_factory=list)
    per: str = PER[0]
    period: str | None = None  # "YYYY-MM-DD:YYYY-MM-DD"
    exams: int = 0  # exams in the period (before one per patient is kept)
    patients: int = 0  # distinct patients among them

    def to_dict(self) -> dict:
        return {"per": self.per, "period": self.period, "overall": self.overall,
                "groups": self.groups}


def period_text(period: tuple[dt.date, dt.date] | None) -> str | None:
    return None if period is None else f"{period[0]:%Y-%m-%d}:{period[1]:%Y-%m-%d}"


def _in_period(request: PrevalenceRequest) -> tuple[str, list]:
    """The WHERE clause (and its parameters) keeping the exams dated within `period`."""
    if request.period is None:
        return "", []
    return "WHERE e.exam_date BETWEEN ? AND ?", list(request.period)


def one_per_patient(frame: pl.DataFrame) -> pl.DataFrame:
    """Each patient's latest exam the estimate can count; else simply their latest exam.

    Why: a registry holds several exams of most patients; counted per exam, a patient
    seen yearly weighs five times one seen once. The exam kept is the latest that is
    `_eligible` (aged `--min-age`+ with a T-score at each site), so a patient whose last
    visit scanned only the hip still counts by the visit that scanned both; ties on the
    date: the larger exam_id (as the report's latest exam). A survey participant has one
    exam, so survey data is unchanged. One sort and one unique: no loop over patients.
    """
    return frame.sort(pl.col("_eligible").fill_null(False), "exam_date", "exam_id").unique(
        "patient_id", keep="last", maintain_order=True)


def _exams(request: PrevalenceRequest) -> pl.DataFrame:
    """The exams of the registry (of the period, when one is given)."""
    columns = ", ".join(f"e.{s}_t" for s in request.sites)
    design = request.weights == "survey"
    join = "JOIN survey_design d USING (exam_id)" if design else ""
    extra = ", d.weight_mec, d.psu, d.stratum, d.cycle" if design else ""
    period, params = _in_period(request)
    with reading(request.db, error=PrevalenceError) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "exams" not in tables:
            raise PrevalenceError(f"{request.db} is not a registry (no exams table)")
        if design and "survey_design" not in tables:
            raise PrevalenceError(f"{request.db} has no survey_design table: use --weights none")
        return query(con, f"SELECT e.exam_id, e.patient_id, e.exam_date, e.age_years, e.sex,"
                          f" {columns}{extra} FROM exams e {join} {period}", params)


def design_frame(exams: pl.DataFrame, request: PrevalenceRequest) -> tuple[pl.DataFrame,
                                                                          list[str]]:
    """The frame every estimate is computed on: weight, stratum, PSU, outcomes, domain;
    one row per patient when `request.per` is "patient" (`one_per_patient`)."""
    notes: list[str] = []
    lowest = pl.min_horizontal([pl.col(f"{s}_t") for s in request.sites])
    complete = pl.all_horizontal([pl.col(f"{s}_t").is_not_null() for s in request.sites])
    age_bands = bands(request.min_age, _breaks(request))
    frame = exams.with_columns(
        (lowest <= request.osteoporosis_t).alias("_osteoporosis"),
        ((lowest > request.osteoporosis_t) & (lowest < request.normal_t))
        .alias("_low_bone_mass"),
        (complete & (pl.col("age_years") >= request.min_age)).alias("_eligible"),
        band_of(pl.col("age_years"), age_bands).alias(BAND),
    )
    if request.per == "patient":
        frame = one_per_patient(frame)
    if request.weights == "survey":
        frame = _survey(frame, request, notes)
    else:  # a registry: every exam weighs 1 and is its own PSU in a single stratum
        frame = frame.with_columns(
            pl.lit(1.0).alias(WEIGHT), pl.lit(0).alias(STRATUM),
            pl.int_range(pl.len()).alias(PSU),
        )
    lonely = lonely_strata(frame)
    if lonely and request.weights == "survey":
        notes.append(f"{lonely} strata with a single PSU add no variance")
    return frame, notes


def _survey(frame: pl.DataFrame, request: PrevalenceRequest, notes: list[str]) -> pl.DataFrame:
    """The design columns of survey exams; a weight the estimate cannot use refuses it.

    A negative weight anywhere means the design is damaged; a weight, PSU or stratum
    missing for an exam the estimate counts (`_eligible`) leaves no honest estimate.
    Exams outside the estimate without a design are left out, with a note.
    """
    if frame.height == 0:
        raise PrevalenceError("no exam has a survey design row (survey_design): "
                              "use --weights none for registry data")
    cycles = frame.get_column("cycle").unique().to_list()
    if len(cycles) > 1:
        raise PrevalenceError(f"exams of {len(cycles)} survey cycles: their weights "
                              "cannot be pooled as they are")
    weight = f"survey weight {weight_variable(cycles[0])} (survey_design.weight_mec)"
    counted = (f"exams counted (aged {request.min_age:g}+ with a T-score at "
               f"{', '.join(request.sites)})")
    negative = frame.filter(pl.col("weight_mec") < 0).height
    if negative:
        raise PrevalenceError(f"{weight} is negative for {negative} exams: the weighted "
                              "estimate is refused (a design weight is never negative)")
    eligible = frame.filter("_eligible")
    unweighted = eligible.filter(pl.col("weight_mec").is_null()).height
    if unweighted:
        raise PrevalenceError(f"{weight} is missing for {unweighted} {counted}: the "
                              "weighted estimate is refused")
    no_design = eligible.filter(pl.col("psu").is_null() | pl.col("stratum").is_null()).height
    if no_design:
        raise PrevalenceError(f"masked variance PSU or stratum (SDMVPSU, SDMVSTRA) is "
                              f"missing for {no_design} {counted}: the weighted estimate "
                              "is refused")
    missing = frame.height - frame.drop_nulls(["weight_mec", "psu", "stratum"]).height
    if missing:
        notes.append(f"{missing} exams without a weight, PSU or stratum left out (none of "
                     "them counted)")
    return frame.drop_nulls(["weight_mec", "psu", "stratum"]).with_columns(
        pl.col("weight_mec").alias(WEIGHT), pl.col("stratum").alias(STRATUM),
        pl.col("psu").alias(PSU),
    )


def _breaks(request: PrevalenceRequest) -> tuple[int, ...]:
    return DEFAULT_BREAKS if request.standard == "none" else standard(request.standard).breaks


def _shares(request: PrevalenceRequest, frame: pl.DataFrame) -> dict[str, float]:
    age_bands = bands(request.min_age, _breaks(request))
    if request.standard == "none":  # crude: one band holding everyone
        return {"all": 1.0}
    return band_shares(standard(request.standard), age_bands)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _summary(frame: pl.DataFrame, domain: pl.Expr, request: PrevalenceRequest,
             notes: list[str], label: str) -> dict:
    shares = _shares(request, frame)
    std_band = pl.lit("all") if request.standard == "none" else pl.col(BAND)
    frame = frame.with_columns(std_band.alias(STD_BAND))
    result: dict = {}
    for outcome, key in (("_osteoporosis", "osteoporosis"), ("_low_bone_mass", "low_bone_mass")):
        est: Estimate = standardised_proportion(frame, outcome, domain, STD_BAND, shares,
                                                request.ci)
        result["n"] = est.n
        result[f"{key}_pct"] = _pct(est.proportion)
        result[f"{key}_ci95"] = None if est.ci95 is None else [_pct(est.ci95[0]),
                                                               _pct(est.ci95[1])]
        if est.bands_missing and key == "osteoporosis" and est.n:
            notes.append(f"{label}: no exams aged {', '.join(est.bands_missing)}; "
                         "standardised over the other bands")
    return {"n": result["n"], "osteoporosis_pct": result["osteoporosis_pct"],
            "low_bone_mass_pct": result["low_bone_mass_pct"],
            "osteoporosis_ci95": result["osteoporosis_ci95"],
            "low_bone_mass_ci95": result["low_bone_mass_ci95"]}


def _group_keys(frame: pl.DataFrame, by: tuple[str, ...]) -> list[dict]:
    column = {"sex": "sex", "age_group": BAND}
    eligible = frame.filter("_eligible")
    keys = eligible.select([pl.col(column[b]).alias(b) for b in by]).unique().drop_nulls()
    return keys.sort(list(by)).to_dicts()


def prevalence(request: PrevalenceRequest) -> PrevalenceResult:
    """Overall and per-group prevalence with 95 % CIs (percent, standardised if asked)."""
    exams = _exams(request)
    counted = {"per": request.per, "period": period_text(request.period),
               "exams": exams.height, "patients": exams.get_column("patient_id").n_unique()}
    if counted["exams"] == 0 and request.period is not None:
        raise PrevalenceError(f"no exam is dated within the period "
                              f"{request.period[0]} to {request.period[1]}")
    frame, notes = design_frame(exams, request)
    eligible = pl.col("_eligible")
    overall = _summary(frame, eligible, request, notes, "overall")
    groups = []
    if request.by:
        column = {"sex": pl.col("sex"), "age_group": pl.col(BAND)}
        for key in _group_keys(frame, request.by):
            domain = eligible
            for name, value in key.items():
                domain = domain & (column[name] == value)
            groups.append(key | _summary(frame, domain, request, notes,
                                         ", ".join(f"{k} {v}" for k, v in key.items())))
    if overall["n"] == 0:
        notes.append(f"no exam aged {request.min_age:g}+ has a T-score at every site asked "
                     f"({', '.join(request.sites)})")
    return PrevalenceResult(overall, groups, notes, **counted)


# --- rendering -------------------------------------------------------------------------


def _ci_text(row: dict, key: str) -> str:
    pct, ci = row[f"{key}_pct"], row[f"{key}_ci95"]
    if pct is None:
        return "-"
    return f"{pct:.1f} ({ci[0]:.1f}-{ci[1]:.1f})"


def _rows(result: PrevalenceResult, by: tuple[str, ...]) -> list[dict]:
    first = dict.fromkeys(by, "all") | result.overall
    return [first, *result.groups]


def render_csv(result: PrevalenceResult, by: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*by, "n", "osteoporosis_pct", "osteoporosis_ci95_lo",
                     "osteoporosis_ci95_hi", "low_bone_mass_pct", "low_bone_mass_ci95_lo",
                     "low_bone_mass_ci95_hi", "per", "period"])
    for row in _rows(result, by):
        values = [row[b] for b in by] + [row["n"]]
        for key in ("osteoporosis", "low_bone_mass"):
            ci = row[f"{key}_ci95"] or [None, None]
            values += [row[f"{key}_pct"], ci[0], ci[1]]
        values += [result.per, result.period]
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue()


def render_json(result: PrevalenceResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def table_rows(result: PrevalenceResult, by: tuple[str, ...]) -> list[list[str]]:
    """[group..., n, osteoporosis % (95% CI), low bone mass % (95% CI)] per row."""
    return [
        [str(row[b]) for b in by] + [str(row["n"]), _ci_text(row, "osteoporosis"),
                                     _ci_text(row, "low_bone_mass")]
        for row in _rows(result, by)
    ]


def describe(request: PrevalenceRequest) -> str:
    """One line saying what the figures are (printed under the table)."""
    weights = "survey-weighted (Taylor linearisation, strata and PSUs)" if (
        request.weights == "survey") else "unweighted"
    std = "crude (not age-standardised)" if request.standard == "none" else (
        f"age-standardised to {request.standard} over "
        f"{', '.join(b.label for b in bands(request.min_age, _breaks(request)))}")
    return (f"Ages {request.min_age:g}+, lowest T-score of {', '.join(request.sites)} (a "
            f"T-score at each required); osteoporosis T <= {request.osteoporosis_t:g}, low "
            f"bone mass {request.osteoporosis_t:g} < T < {request.normal_t:g}; {weights}; "
            f"{std}; 95 % CI {_CI_TEXT[request.ci]}.")


def counting_line(result: PrevalenceResult) -> str:
    """One line saying what was counted: each patient once, or every exam (and when)."""
    period = result.period
    within = "" if period is None else " dated {} to {}".format(*period.split(":"))
    if result.per == "patient":
        return (f"Counted per patient: each patient once, by their latest qualifying "
                f"exam{within} ({result.patients:,} patients, {result.exams:,} exams).")
    return (f"Counted per exam: every exam{within}, a patient with several counting "
            f"several times ({result.exams:,} exams of {result.patients:,} patients).")


_CI_TEXT = {"korn-graubard": "Korn-Graubard (as NCHS)", "wald": "p +/- 1.96 SE (Wald)"}
