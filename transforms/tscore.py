"""T-scores from BMD against a named reference population (any input format).

Why: scanners of different vendors (and software versions) compute T-scores against
different young-adult references, so the same BMD can carry different T-scores; and some
inputs (NHANES, research exports) give BMD only. A reference file
(`references/NAME.toml`: per site and sex the young-adult mean and SD of BMD, the
population and the source) makes the T-score reproducible: T = (BMD - mean) / SD.

Two uses:
* fill: a site with a BMD and no T-score gets one from the default reference;
* on demand (`dxa run --t-reference NAME`): every site the reference covers is
  recomputed from its BMD, and the source's own T-score is kept aside.

Either way each computed T-score is marked with the reference's name in bookkeeping
columns (`_t_reference_<site>`, `_reported_t_<site>`) that the loader writes to the
`t_score_sources` table, so that a reader can always tell a reported T-score from a
computed one. Z-scores need age-, sex- (and ethnicity-) specific references; none is
shipped, so Z stays as reported (usually not recorded).

The reference values are calibrated to one manufacturer (`calibration`): a T-score is
computed only where the exam's scanner manufacturer is recorded as that one
(clinical-rules.md TSCORE-FROM-BMD). A blank manufacturer is not assumed to match: a GE
Lunar BMD read against the Hologic reference gave wrong T-scores, and Lunar BMD is not
on the reference's scale without cross-calibration. Each site left with a BMD and no
T-score says why in `_t_not_computed_<site>`: the rules raise T_SCORE_NOT_COMPUTED from
it, and a row left with no score at all is quarantined naming those sites.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.reference_files import (
    ReferenceFileError,
    read_reference_file,
    shipped,
    shipped_names,
)
from transforms.rules.declare import READING_STEP, SPEC, Rule

RULES: tuple[Rule, ...] = (
    Rule(
        "TSCORE-FROM-BMD", "site",
        "A site with a BMD and no T-score gets a T-score computed from the BMD (T = (BMD - "
        "mean) / SD, 6 decimals) only where scanner_manufacturer is recorded and the "
        "reference (default nhanes3, calibrated for Hologic; dxa run --t-reference names "
        "another) applies to that manufacturer, site and sex. Otherwise nothing is "
        "computed and the site has no T-score: flag T_SCORE_NOT_COMPUTED (info; the detail "
        "names each site and why). A row left with no T-score and no Z-score at any site, "
        "reported or computed, is quarantined (NO_SCORED_SITE, with a T_SCORE_NOT_COMPUTED "
        "reason naming each such site). A WHO-basis exam with Z-scores and no T-score is "
        "not_assessed (NO_DIAGNOSTIC_SITE). Every computed T-score is listed in "
        "t_score_sources.",
        (), SPEC, implemented_in=READING_STEP,
        input_limits=("NHANES and APEX exams are Hologic and get computed T-scores; GE "
                      "Lunar exams and canonical rows with a blank or other manufacturer "
                      "keep only the T-scores they report."),
    ),
)

#: The reference used to fill a missing T-score when none is named.
DEFAULT_REFERENCE = "nhanes3"
#: Sites a reference may cover (the 33% radius has no shipped reference).
REFERENCE_SITES = ("spine", "femoral_neck", "total_hip", "radius_33")
#: Decimals kept: removes floating-point noise (0.558 g/cm2 is exactly -2.5 on the
#: NHANES III neck reference), far below any clinical rounding.
T_DECIMALS = 6
#: The shipped reference file that is not a T-score reference (`transforms.standardise`).
_NOT_A_T_REFERENCE = "standard_populations"


@dataclass(frozen=True)
class SiteReference:
    site: str
    sex: str
    mean: float
    sd: float
    population: str
    source: str


@dataclass(frozen=True)
class Reference:
    """A named T-score reference: young-adult mean and SD per site and sex."""

    name: str
    title: str
    calibration: str | None
    sites: tuple[SiteReference, ...]

    def covers(self, site: str) -> list[SiteReference]:
        return [s for s in self.sites if s.site == site]


def _reference_path(name: str) -> Path:
    named = shipped(f"{name}.toml")
    if named.is_file():
        return named
    given = Path(name)
    if given.is_file():
        return given
    raise ReferenceFileError(
        f"unknown T-score reference {name!r} (shipped: {', '.join(available_references())})"
    )


def available_references() -> list[str]:
    """The shipped T-score references, by name."""
    return [n for n in shipped_names() if n != _NOT_A_T_REFERENCE]


def _site_rows(path: Path, rows: list[dict]) -> tuple[SiteReference, ...]:
    found = []
    for i, row in enumerate(rows, start=1):
        try:
            site, mean, sd = row["site"], float(row["mean"]), float(row["sd"])
            sexes = row["sex"] if isinstance(row["sex"], list) else [row["sex"]]
            population, source = str(row["population"]), str(row["source"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReferenceFileError(f"{path}: site entry {i}: missing or bad {exc}") from None
        if site not in REFERENCE_SITES:
            raise ReferenceFileError(f"{path}: site entry {i}: unknown site {site!r}")
        if not (0 < mean < 3 and 0 < sd < 1):
            raise ReferenceFileError(f"{path}: site entry {i}: mean or sd out of range")
        for sex in sexes:
            if sex not in ("F", "M"):
                raise ReferenceFileError(f"{path}: site entry {i}: sex must be F or M")
            found.append(SiteReference(site, sex, mean, sd, population, source))
    keys = [(s.site, s.sex) for s in found]
    if len(keys) != len(set(keys)):
        raise ReferenceFileError(f"{path}: a site and sex is given twice")
    return tuple(found)


def load_reference(name: str = DEFAULT_REFERENCE) -> Reference:
    """A shipped reference by name, or a reference TOML file by path."""
    path = _reference_path(name)
    data = read_reference_file(path)
    if "name" not in data or not data.get("site"):
        raise ReferenceFileError(f"{path}: needs `name` and at least one [[site]]")
    return Reference(
        name=str(data["name"]),
        title=str(data.get("title", data["name"])),
        calibration=data.get("calibration"),
        sites=_site_rows(path, data["site"]),
    )


@functools.cache
def default_reference() -> Reference:
    """The default reference, read once per process (the rules read it per decision)."""
    return load_reference(DEFAULT_REFERENCE)


@dataclass(frozen=True)
class TScorePolicy:
    """Which reference computes T-scores, and whether reported ones are replaced."""

    reference: Reference
    replace: bool = False  # True: `--t-reference` (recompute, keep the source's aside)


def t_score_policy(t_reference: str | None = None) -> TScorePolicy:
    """`--t-reference NAME` recomputes every T-score; otherwise missing ones are filled
    from the default reference. A bad name or file raises ReferenceFileError naming it."""
    if t_reference is None:
        return TScorePolicy(load_reference(DEFAULT_REFERENCE), replace=False)
    return TScorePolicy(load_reference(t_reference), replace=True)


def t_reference_column(site: str) -> str:
    return f"_t_reference_{site}"


def reported_t_column(site: str) -> str:
    return f"_reported_t_{site}"


def not_computed_column(site: str) -> str:
    """Bookkeeping column: why the site's BMD got no T-score (null: nothing missing)."""
    return f"_t_not_computed_{site}"


def _same_calibration(reference: Reference) -> pl.Expr:
    """Exams whose scanner is recorded as the reference's manufacturer (any recorded one
    for a reference without a calibration); a blank manufacturer never matches."""
    maker = pl.col("scanner_manufacturer")
    if reference.calibration is None:
        return maker.is_not_null()
    return maker.str.to_lowercase().str.contains(
        reference.calibration.lower(), literal=True
    ).fill_null(False)


def why_not_computed(reference: Reference, site: str) -> pl.Expr:
    """Why a site with a BMD has no T-score after `apply_t_reference` (null: it has one,
    or no BMD). Names the reference and the manufacturer it applies to, never a value."""
    name, calibration = reference.name, reference.calibration
    applies = f"the {name} reference applies to {calibration} scanners only" if (
        calibration) else f"the {name} reference needs a recorded scanner manufacturer"
    maker = pl.col("scanner_manufacturer")
    needed = pl.col(f"{site}_bmd").is_not_null() & pl.col(f"{site}_t").is_null()
    if not reference.covers(site):
        why = pl.lit(f"the {name} reference has no values for this site")
    else:
        why = (
            pl.when(maker.is_null())
            .then(pl.lit(f"scanner_manufacturer is not recorded ({applies})"))
            .when(~_same_calibration(reference))
            .then(pl.lit(f"scanner_manufacturer is another manufacturer ({applies})"))
            .otherwise(pl.lit(f"the {name} reference has no values for this site and sex"))
        )
    return pl.when(needed).then(why).otherwise(None).cast(pl.String)


def not_computed_again(columns: list[str], name: str) -> pl.Expr | None:
    """`_t_not_computed_<site>` (`name`) worked out again from canonical `columns`, or
    None where `name` is no such column or the columns it needs are missing.

    Exams read back from the registry (`dxa reassess`, a new ruleset on a loaded file)
    carry their T-scores as filled, not why a BMD got none; a filled T-score is null
    exactly where nothing was computed, so the default reference gives the reading
    step's answer (a `--t-reference` run's own reference aside).
    """
    site = next((s for s in REFERENCE_SITES if not_computed_column(s) == name), None)
    if site is None:
        return None
    expr = why_not_computed(default_reference(), site)
    if not set(expr.meta.root_names()) <= set(columns):
        return None
    return expr.alias(name)


def computed_t(reference: Reference, site: str) -> pl.Expr:
    """T-score of `site` from its BMD by the exam's sex; null where not covered."""
    bmd = pl.col(f"{site}_bmd")
    value = pl.lit(None, dtype=pl.Float64)
    for entry in reversed(reference.covers(site)):
        value = (
            pl.when(pl.col("sex") == entry.sex)
            .then(((bmd - entry.mean) / entry.sd).round(T_DECIMALS))
            .otherwise(value)
        )
    return value


def apply_t_reference(exams: pl.DataFrame, policy: TScorePolicy) -> pl.DataFrame:
    """Fill (or, on demand, replace) T-scores from BMD; mark each computed one.

    `exams` is the typed exam frame (after parsing). Adds `_t_reference_<site>` (the
    reference's name where the T-score was computed) and `_reported_t_<site>` (the
    source's T-score a replacement set aside) for every site the reference covers.
    """
    reference = policy.reference
    on_scale = _same_calibration(reference)
    columns = []
    for site in REFERENCE_SITES:
        if not reference.covers(site):
            continue  # nothing to compute: no bookkeeping columns either
        reported = pl.col(f"{site}_t")
        new = computed_t(reference, site)
        use = on_scale & new.is_not_null()
        if not policy.replace:
            use = use & reported.is_null()
        columns += [
            pl.when(use).then(new).otherwise(reported).alias(f"{site}_t"),
            pl.when(use).then(pl.lit(reference.name)).otherwise(None)
            .cast(pl.String).alias(t_reference_column(site)),
            pl.when(use).then(reported).otherwise(None)
            .cast(pl.Float64).alias(reported_t_column(site)),
        ]
    filled = exams.with_columns(columns)
    return filled.with_columns(not_computed_columns(reference))


def not_computed_columns(reference: Reference) -> list[pl.Expr]:
    """`_t_not_computed_<site>` for every site, read from a frame whose T-scores are
    filled (after `apply_t_reference`, or as the registry stores them)."""
    return [why_not_computed(reference, site).alias(not_computed_column(site))
            for site in REFERENCE_SITES]


def t_score_sources(valid: pl.DataFrame) -> pl.DataFrame:
    """One row per exam and site whose T-score was computed: what `t_score_sources` holds.

    (exam_id, site, t_reference, t_score, reported_t_score); empty when the frame has no
    bookkeeping columns (no policy ran).
    """
    parts = [
        valid.filter(pl.col(t_reference_column(site)).is_not_null()).select(
            "exam_id",
            pl.lit(site).alias("site"),
            pl.col(t_reference_column(site)).alias("t_reference"),
            pl.col(f"{site}_t").alias("t_score"),
            pl.col(reported_t_column(site)).alias("reported_t_score"),
        )
        for site in REFERENCE_SITES
        if t_reference_column(site) in valid.columns
    ]
    schema = {"exam_id": pl.String, "site": pl.String, "t_reference": pl.String,
              "t_score": pl.Float64, "reported_t_score": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).cast(schema)  # type: ignore[arg-type]
