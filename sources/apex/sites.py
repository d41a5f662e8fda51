"""Mapping scans to sites: measurement rows per scan, T/Z by BONERANGE, and the per-scan errors."""


from __future__ import annotations

import polars as pl

from schemas.columns import SITES
from sources.apex.tables import (
    _FOREARM_RANGE,
    _NO_ERRORS,
    _SPINE_RANGE,
    MEASUREMENT_TABLES,
    ROW,
    SCAN_KEY,
    _at,
    _link_keys,
    _reason,
    _where,
)
from sources.vendor_units import flag

# --- measurements and references per scan -----------------------------------------------

#: measurement table -> its values per scan
_VALUES: dict[str, dict[str, pl.Expr]] = {
    "Spine": {
        "_spine_bmd": pl.col("TOT_BMD"),
        "_flags": pl.sum_horizontal(
            flag(pl.col(f"L{i}_INCLUDED")).cast(pl.Int64) for i in range(1, 5)
        ),
        "_flags_known": pl.any_horizontal(
            flag(pl.col(f"L{i}_INCLUDED")).is_not_null() for i in range(1, 5)
        ),
    },
    "Hip": {"_neck_bmd": pl.col("NECK_BMD"), "_total_bmd": pl.col("HTOT_BMD")},
    "Forearm": {"_radius_bmd": pl.col("R_13_BMD")},
}


def _attach_measurements(scans: pl.DataFrame, name: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Join one measurement table's values to the scans, with its errors per scan.

    Errors: no row for a scan of this table's kind, several differing rows for one scan,
    a row linked to a scan of another kind, a SCANID-only link that is ambiguous.
    """
    keys = _link_keys(rows)
    found = f"_rows_{name}"
    per_scan = rows.sort(ROW).group_by(keys, maintain_order=True).agg(
        *[expr.first().alias(col) for col, expr in _VALUES[name].items()],
        pl.col(ROW).alias(found),
    )
    scans = scans.join(per_scan, on=keys, how="left")
    here = pl.col(found).is_not_null()
    where = _where(name, pl.col(found))
    problems = [
        pl.when((pl.col("_table") == name) & ~here).then(
            _reason("APEX_NO_MEASUREMENT", "ScanAnalysis", _at("ScanAnalysis"), other=name)
        ),
        pl.when(here & (pl.col(found).list.len() > 1)).then(
            _reason("APEX_CONFLICTING_ROWS", name, where, what="rows for one scan")
        ),
        pl.when(here & (pl.col("_table") != name)).then(
            _reason("APEX_WRONG_SCAN_KIND", name, where, kind=pl.col("_kind"))
        ),
    ]
    if keys == ["SCANID"]:
        problems.append(
            pl.when(here & pl.col("_scanid_shared")).then(
                _reason("APEX_AMBIGUOUS_SCANID", name, where, other=name)
            )
        )
    return scans.with_columns(
        pl.concat_list(problems).list.drop_nulls().alias(f"_errors_{name}")
    )


def _reference_site(bonerange: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The canonical site a BONERANGE gives for a scan kind; "unused" for regions the
    registry does not carry (hip `.2..` trochanter, `..3.` intertrochanter, `...4`
    Ward's; other forearm regions); null when the BONERANGE is unknown."""
    return (
        pl.when((kind == "spine") & bonerange.str.contains(_SPINE_RANGE) & (bonerange != "...."))
        .then(pl.lit("spine"))
        .when((kind == "hip") & (bonerange == "1..."))
        .then(pl.lit("femoral_neck"))
        .when((kind == "hip") & (bonerange == "123."))
        .then(pl.lit("total_hip"))
        .when((kind == "hip") & bonerange.str.contains(_SPINE_RANGE))
        .then(pl.lit("unused"))
        .when((kind == "forearm") & (bonerange == "R.."))
        .then(pl.lit("radius_33"))
        .when((kind == "forearm") & bonerange.str.contains(_FOREARM_RANGE))
        .then(pl.lit("unused"))
    )


def _references(refs: pl.DataFrame, scans: pl.DataFrame) -> pl.DataFrame:
    """T and Z per site for each scan (keyed by the scan's PATIENT_KEY, SCANID), with
    `_errors_refs`: unknown or blank BONERANGE, differing rows for one BONERANGE, two
    spine ranges of the same (widest) width."""
    keys = _link_keys(refs)
    per_range = (
        refs.sort(ROW)
        .group_by([*keys, "BONERANGE"], maintain_order=True)
        .agg(pl.col("T_SCORE", "Z_SCORE").first(), _rows=pl.col(ROW))
        .join(scans.select(*SCAN_KEY, "_kind"), on=keys, how="inner")
    )
    br = pl.col("BONERANGE")
    site = pl.col("_site")
    per_range = per_range.with_columns(
        _site=_reference_site(br, pl.col("_kind")), _digits=br.str.count_matches(r"\d")
    ).with_columns(
        _widest=pl.col("_digits") == pl.col("_digits").max().over([*SCAN_KEY, "_site"]),
    )
    ties = per_range.filter((site == "spine") & pl.col("_widest")).group_by(SCAN_KEY).agg(
        _tied=pl.col("_rows").list.explode(keep_nulls=False, empty_as_null=False), _n=pl.len()
    ).filter(pl.col("_n") > 1)
    where = _where("ReferenceResults", pl.col("_rows"))
    errors = per_range.with_columns(
        _error=pl.when(br.is_null())
        .then(_reason("APEX_MISSING_VALUE", "ReferenceResults", where, field="BONERANGE"))
        .when(site.is_null())
        .then(_reason("APEX_UNKNOWN_BONERANGE", "ReferenceResults", where, bonerange=br))
        .when(pl.col("_rows").list.len() > 1)
        .then(_reason("APEX_CONFLICTING_ROWS", "ReferenceResults", where,
                      what="rows for one scan and BONERANGE"))
    ).group_by(SCAN_KEY).agg(_errors_refs=pl.col("_error").drop_nulls())
    tie_errors = ties.select(
        *SCAN_KEY,
        _tie=_reason("APEX_SPINE_RANGE_TIE", "ReferenceResults",
                     _where("ReferenceResults", pl.col("_tied"))),
    )
    picked = per_range.filter(site.is_in(SITES) & pl.col("_widest"))
    values = picked.group_by(SCAN_KEY).agg(
        *[
            pl.col(column).filter(site == s).first().alias(f"{column}_{s}")
            for s in SITES
            for column in ("T_SCORE", "Z_SCORE", "_digits")
        ]
    )
    out = errors.join(tie_errors, on=SCAN_KEY, how="left", nulls_equal=True).with_columns(
        _errors_refs=pl.concat_list("_errors_refs", "_tie").list.drop_nulls()
    ).drop("_tie")
    return out.join(values, on=SCAN_KEY, how="full", coalesce=True, nulls_equal=True)


def _missing(where: pl.Expr, field: str) -> pl.Expr:
    return _reason("APEX_MISSING_VALUE", "ScanAnalysis", where, field=field)


def _scan_errors(scans: pl.DataFrame) -> pl.DataFrame:
    """Every problem of a scan, as a list of messages naming table and row."""
    here = _at("ScanAnalysis")
    problems = [
        pl.when(pl.col("PATIENT_KEY").is_null()).then(_missing(here, "PATIENT_KEY")),
        pl.when(pl.col("PATIENT_KEY").is_not_null() & pl.col("_patient_found").is_null()).then(
            _reason("APEX_NO_PATIENT", "ScanAnalysis", here)
        ),
        pl.col("_patient_error"),
        pl.when(pl.col("SERIAL_NUMBER").is_null()).then(_missing(here, "SERIAL_NUMBER")),
        pl.when(pl.col("_type").is_null()).then(_missing(here, "SCAN_TYPE")),
        pl.when(pl.col("_date").is_null()).then(
            _reason("APEX_UNREADABLE_DATE", "ScanAnalysis", here, field="SCAN_DATE")
        ),
        pl.col("_sa_error"),
    ]
    lists = [
        pl.concat_list(problems).list.drop_nulls(),
        *[pl.col(f"_errors_{name}") for name in MEASUREMENT_TABLES],
        pl.col("_errors_refs").fill_null(_NO_ERRORS),
    ]
    return scans.with_columns(_errors=pl.concat_list(lists))
