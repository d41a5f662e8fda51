"""Test helpers: registries holding precision studies of known true precision (no Prefect).

A study is patients x scans BMDs per site, drawn with numpy: each patient's true BMD from a
normal across patients, each scan that BMD times (1 + CV x a standard normal), so the
true precision of every site is its CV. Patient ids carry `SECRET`, so a leak into any
output shows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
from exam_rows import make_row, write_csv

from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.store import registry
from sources.detect import discover
from transforms.precision import PrecisionTable, load_precision

#: True precision (%CV) of each site of the generated studies: well under ISCD's minima
#: (1.9, 1.8, 2.5), so that even an estimate 3 sampling errors high meets them.
TRUE_CV = {"spine": 1.0, "total_hip": 0.9, "femoral_neck": 1.5}
#: (mean, SD) of the patients' true BMDs, g/cm2.
BMD_SPREAD = {"spine": (1.0, 0.12), "total_hip": (0.9, 0.11), "femoral_neck": (0.75, 0.1)}
STUDY_DATE = "2025-03-04"
#: make_row's femoral neck and hip side blanked: an exam holds only the sites given to it.
NO_SITE = {"femoral_neck_bmd": None, "femoral_neck_t": None, "femoral_neck_z": None,
           "hip_side": None}


def draw_study(rng: np.random.Generator, patients: int, scans: int,
               cv: dict[str, float] = TRUE_CV) -> dict[str, np.ndarray]:
    """site -> BMDs (patients x scans), rounded to 3 decimals as scanners report them."""
    drawn = {}
    for site, pct in cv.items():
        mean, sd = BMD_SPREAD[site]
        true = rng.normal(mean, sd, size=(patients, 1))
        drawn[site] = np.round(true * (1 + pct / 100 * rng.standard_normal((patients, scans))),
                               3)
    return drawn


def study_rows(serial: str, bmds: dict[str, np.ndarray], date: str = STUDY_DATE,
               **extra: object) -> list[dict[str, str]]:
    """One exam per patient and scan on `serial`, all on `date` (left hip)."""
    patients, scans = next(iter(bmds.values())).shape
    rows = []
    for p in range(patients):
        for k in range(scans):
            sites = {f"{site}_bmd": repr(float(values[p, k])) for site, values in bmds.items()}
            rows.append(make_row(**{
                **NO_SITE, "hip_side": "left", **sites,
                "exam_id": f"SECRET-{serial}-E{p:02d}-{k}",
                "patient_id": f"SECRET-{serial}-P{p:02d}", "exam_date": date,
                "scanner_serial": serial, **extra}))
    return rows


def exact_pairs(serial: str, cv: dict[str, float], patients: int = 3,
                **extra: object) -> list[dict[str, str]]:
    """Pairs whose every patient's %CV is exactly `cv` of each site: m(1 + d), m(1 - d)
    with d = CV / (100 sqrt 2), so SD = sqrt 2 m d and SD / mean = CV / 100."""
    bmds = {}
    for site, pct in cv.items():
        means = np.linspace(0.7, 1.1, patients)[:, None]
        d = pct / 100 / np.sqrt(2)
        bmds[site] = means * np.array([[1 + d, 1 - d]])
    return study_rows(serial, bmds, **extra)


def brute_force(bmds: np.ndarray) -> tuple[float, float]:
    """(RMS SD, RMS %CV) of patients x scans BMDs: the ISCD formula, in numpy."""
    sd = bmds.std(axis=1, ddof=1)
    cv = sd / bmds.mean(axis=1) * 100
    df = np.full(len(bmds), bmds.shape[1] - 1)
    return (float(np.sqrt((sd**2 * df).sum() / df.sum())),
            float(np.sqrt((cv**2 * df).sum() / df.sum())))


def load_exams(con: duckdb.DuckDBPyConnection, folder: Path, name: str,
               rows: list[dict[str, str]], precision: PrecisionTable | None = None) -> None:
    """Load one CSV of exams as a night's run would, without the flow."""
    inputs, _ = discover([write_csv(folder / f"{name}.csv", rows)])
    chosen = resolve_ruleset("core-2025")
    load_input(writer_for(con), f"run-{name}", chosen.label, prepare_input(inputs[0]),
               decider_for(chosen), precision or load_precision())


def build_registry(folder: Path, rows: list[dict[str, str]]) -> Path:
    """A registry holding `rows` (closed, ready to read)."""
    db = folder / "registry.duckdb"
    with registry(db) as con:
        load_exams(con, folder, "study", rows)
    return db
