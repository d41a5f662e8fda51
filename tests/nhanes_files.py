"""Small synthetic NHANES folders, written as real SAS transport files with pyreadstat.

Two naming styles: the 2017-March 2020 pre-pandemic files (`P_DEMO.XPT`, with WTMECPRP,
the invalidity codes and the vertebra columns) and the 2017-2018 cycle (`DEMO_J.XPT`,
WTMEC2YR, only the columns the reader needs).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyreadstat

REPO = Path(__file__).resolve().parents[1]


def shared_nhanes() -> Path:
    """The shared real files: `../shared/data/nhanes` beside the repo (CI's layout)."""
    return REPO.parent / "shared" / "data" / "nhanes"


def participant(seqn: int, *, sex: int = 2, age: int = 60, femur: int = 1, spine: int = 1,
                neck: float | None = 0.700, total: float | None = 0.850,
                spine_bmd: float | None = 0.900, weight: float = 1000.0, psu: int = 1,
                stratum: int = 150, mother: float | None = 2.0,
                father: float | None = 2.0) -> dict:
    """One participant's variables; BMD only where the status says valid (as CDC does)."""
    return {
        "SEQN": seqn, "RIAGENDR": sex, "RIDAGEYR": age, "WT": weight, "SDMVPSU": psu,
        "SDMVSTRA": stratum, "DXAFMRST": femur,
        "DXXNKBMD": neck if femur == 1 else None, "DXXOFBMD": total if femur == 1 else None,
        "DXASPNST": spine, "DXXOSBMD": spine_bmd if spine == 1 else None,
        "OSQ170": mother, "OSQ200": father,
    }


def _write(frame: pl.DataFrame, path: Path, name: str) -> None:
    pyreadstat.write_xport(frame.cast(pl.Float64), str(path), file_format_version=5,
                           table_name=name[:8])


def write_nhanes(folder: Path, people: list[dict], style: str = "P",
                 with_optional: bool = True) -> Path:
    """Write DEMO, DXXFEM, DXXSPN (and OSQ, BMX) for `people` into `folder`.

    style "P": `P_DEMO.XPT` ... with WTMECPRP; style "J": `DEMO_J.XPT` ... with WTMEC2YR.
    """
    folder.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(people, infer_schema_length=None)

    def name(table: str) -> str:
        return f"P_{table}.XPT" if style == "P" else f"{table}_{style}.XPT"

    weight = "WTMECPRP" if style == "P" else "WTMEC2YR"
    demo = frame.select("SEQN", "RIAGENDR", "RIDAGEYR", pl.col("WT").alias(weight),
                        "SDMVPSU", "SDMVSTRA", pl.lit(2).alias("RIDSTATR"))
    femur = frame.select("SEQN", "DXAFMRST", "DXXNKBMD", "DXXOFBMD")
    spine = frame.select("SEQN", "DXASPNST", "DXXOSBMD")
    if style == "P":  # the pre-pandemic files carry the invalidity codes and vertebrae
        femur = femur.with_columns(
            pl.when(pl.col("DXAFMRST") == 1).then(0).when(pl.col("DXAFMRST") == 2).then(6)
            .alias("DXXFMBCC"))
        spine = spine.with_columns(
            pl.when(pl.col("DXASPNST") <= 2).then((pl.col("DXASPNST") == 2).cast(pl.Int64))
            .alias("DXXOSBCC"),
            pl.col("DXXOSBMD").alias("DXXL1BMD"))
    _write(demo, folder / name("DEMO"), "DEMO")
    _write(femur, folder / name("DXXFEM"), "DXXFEM")
    _write(spine, folder / name("DXXSPN"), "DXXSPN")
    if with_optional:
        _write(frame.select("SEQN", "OSQ170", "OSQ200"), folder / name("OSQ"), "OSQ")
        _write(frame.select("SEQN", pl.lit(165.0).alias("BMXHT"), pl.lit(70.0).alias("BMXWT"),
                            pl.lit(25.7).alias("BMXBMI")), folder / name("BMX"), "BMX")
    return folder
