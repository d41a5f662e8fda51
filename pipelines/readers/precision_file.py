"""The precision file a run reads (`dxa run --precision`), written from a precision study.

`transforms/precision.py::load_precision` reads `[default]` and `[scanner."SERIAL"]`
tables of site = %CV. A scanner and site whose study is complete (df >= 30) gets its own
RMS %CV, so that CHG-LSC judges its changes against the facility's own LSC
(`lsc_source = precision_study`); every other scanner and site falls back to `[default]`,
which is copied from the shipped file (`config/precision.toml`): a file without it would
leave those sites with no LSC at all. An incomplete study is not written, and the file and
the command say so.

The file is written 0600, whole or not at all (`runtime/export_files.py`). Its header says
when and from which registry it was made. Serials and the registry's path are data: they
are written as TOML basic strings (JSON's escapes are TOML's), so a quote or a line break
in them cannot break the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import polars as pl

from pipelines.readers.precision_study import COMPLETE_DF, PrecisionStudy
from pipelines.runtime.export_files import write_private_text
from transforms.precision import LSC_FACTOR, MAX_PRECISION_PCT, load_precision

#: Decimals of the %CV written (the ISCD calculator shows two; a third keeps LSC exact to
#: 0.003 %).
WRITTEN_DECIMALS: Final = 3


def quoted(text: str) -> str:
    """`text` as a TOML basic string (also safe inside a comment: no line break)."""
    return json.dumps(text, ensure_ascii=False)


def written_rows(study: PrecisionStudy) -> pl.DataFrame:
    """The complete rows with the %CV as written, and whether the loader can take it
    (0 < value <= MAX_PRECISION_PCT: a study of copies of one scan rounds to 0)."""
    value = pl.col("rms_cv_pct").round(WRITTEN_DECIMALS)
    return study.complete_rows().with_columns(written_pct=value).with_columns(
        writable=(pl.col("written_pct") > 0) & (pl.col("written_pct") <= MAX_PRECISION_PCT))


def _site(row: dict) -> str:
    return f"{quoted(row['scanner_serial'])} {row['site']}"


def notes(study: PrecisionStudy) -> list[str]:
    """Per scanner and site: why it is not written (the default applies instead), or that
    its precision, written, does not meet ISCD's minimum acceptable."""
    defaults = load_precision().defaults
    said = []
    for row in study.incomplete_rows().iter_rows(named=True):
        fallback = defaults.get(row["site"])
        applies = (f"the default applies ({fallback:g} %)" if fallback is not None
                   else "no default: no LSC verdict")
        said.append(f"scanner {_site(row)}: study incomplete ({row['patients']} patients, "
                    f"df {row['df']} of {COMPLETE_DF}): not written, {applies}")
    rows = written_rows(study)
    for row in rows.filter(~pl.col("writable")).iter_rows(named=True):
        said.append(f"scanner {_site(row)}: RMS %CV {row['rms_cv_pct']:.4g} is outside "
                    f"(0, {MAX_PRECISION_PCT:g}] (copies of one scan?): not written")
    failing = rows.filter(pl.col("writable") & ~pl.col("meets_iscd").fill_null(True))
    for row in failing.iter_rows(named=True):
        said.append(f"scanner {_site(row)}: RMS %CV {row['rms_cv_pct']:.4g} does not meet "
                    f"ISCD's minimum acceptable ({row['iscd_minimum_pct']:g} %): written (it "
                    "is this scanner's precision); ISCD advises retraining and a new study")
    return said


def _scanner_tables(study: PrecisionStudy) -> list[str]:
    lines = []
    rows = written_rows(study).filter(pl.col("writable"))
    for (serial,), table in rows.group_by("scanner_serial", maintain_order=True):
        lines += ["", f"[scanner.{quoted(str(serial))}]"]
        for row in table.iter_rows(named=True):
            verdict = {True: "meets", False: "does NOT meet", None: "no"}[row["meets_iscd"]]
            minimum = ("" if row["iscd_minimum_pct"] is None
                       else f" {row['iscd_minimum_pct']:g} %")
            lines.append(
                f"{row['site']} = {row['written_pct']:.{WRITTEN_DECIMALS}f}  # LSC "
                f"{LSC_FACTOR * row['written_pct']:.2f} %; {row['patients']} patients, "
                f"{row['scans']} scans, df {row['df']}; {verdict} ISCD minimum{minimum}")
    return lines


def precision_toml(study: PrecisionStudy) -> str:
    """The file's text: header, `[default]` (the shipped defaults), one table per scanner
    with a complete study."""
    header = [
        "# Precision file written by `dxa precision` on "
        f"{study.made_at.isoformat(timespec='seconds')}",
        f"# from the registry {quoted(str(study.db))}: same-day repeat exams of a patient on",
        "# one scanner, pooled as the ISCD precision calculator does (RMS %CV).",
        f"# A run uses it with --precision; LSC = {LSC_FACTOR} x the value. Only scanners and "
        f"sites",
        f"# with a complete study (degrees of freedom >= {COMPLETE_DF}) are listed; the others"
        " use [default]",
        "# (the shipped defaults, config/precision.toml).",
    ]
    said = notes(study)
    if said:
        header += ["#", "# Notes:", *(f"#   {line}" for line in said)]
    defaults = load_precision().defaults
    body = ["", "[default]", *(f"{site} = {value:g}" for site, value in defaults.items())]
    return "\n".join([*header, *body, *_scanner_tables(study)]) + "\n"


def write_precision_file(study: PrecisionStudy, output: Path) -> int:
    """Write the precision file (0600, whole or not at all); the scanner-site values
    written."""
    write_private_text(output, precision_toml(study))
    return written_rows(study).filter(pl.col("writable")).height
