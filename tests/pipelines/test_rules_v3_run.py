"""The second clinical review's situations through `dxa run` (clinical rules version 3,
section 12): each patient's latest decision, which version 2 got wrong.

Two nights: the first loads the earlier exams, the second the later ones, so history
comes from the registry as it does in production.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app

runner = CliRunner()
FIRST, LATER = "2023-03-01", "2024-03-01"


def exam(patient: str, date: str, **fields: object) -> dict[str, str]:
    """An exam of the worked example's woman (62, neck T -2.1, FRAX 9 / 1.2)."""
    return make_row(exam_id=f"{patient}-{date}", patient_id=patient, exam_date=date, **fields)


NIGHT_1 = [
    exam("OP-IMPROVED", FIRST, femoral_neck_t=-2.6),
    exam("FX-BLANK", FIRST, vertebral_fracture="yes"),
    exam("FOREARM", FIRST, femoral_neck_t=-2.7),
]
NIGHT_2 = [
    # version 2: osteopenia alone, not_indicated; version 3: the diagnosis persists
    exam("OP-IMPROVED", LATER, femoral_neck_t=-2.4),
    # version 2: the 2023 vertebral fracture forgotten (blank cell); version 3: recommended
    exam("FX-BLANK", LATER, vertebral_fracture=""),
    # version 2: the forearm-only exam judged alone (osteopenia) and due in 2 years;
    # version 3: the central visit's T -2.7 read, due no later than that visit
    exam("FOREARM", LATER, femoral_neck_bmd="", femoral_neck_t="", femoral_neck_z="",
         hip_side="", radius_33_bmd="0.62", radius_33_t="-1.6", radius_33_z="-0.5"),
    # version 2: FRAX hip 4 % not_indicated (threshold 5 %); version 3: consider
    exam("FRAX-4", LATER, frax_hip_pct=4),
    # version 2: oral bisphosphonate; version 3: very high risk, specialist first
    exam("VERY-HIGH", LATER, femoral_neck_t=-3.4, vertebral_fracture="yes", frax_major_pct=35),
    # version 2: glucocorticoids did not adjust FRAX (not_indicated); version 3: 21.3 / 3.1
    exam("STEROID", LATER, frax_major_pct=18.5, frax_hip_pct=2.6, glucocorticoid_mg_day=10,
         glucocorticoid_months=12),
]


def test_the_reviews_situations_through_dxa_run(tmp_path: Path, prefect_harness) -> None:
    db = tmp_path / "r.duckdb"
    for night, rows in (("n1", NIGHT_1), ("n2", NIGHT_2)):
        result = runner.invoke(app, ["run", str(write_csv(tmp_path / f"{night}.csv", rows)),
                                     "--db", str(db)])
        assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        latest = {row[0]: row[1:] for row in con.execute(
            "SELECT patient_id, who_category, treatment, first_line_therapy, next_dxa_due,"
            " history_used FROM v_latest_assessment").fetchall()}
        adjusted = con.execute("SELECT round(frax_major_adjusted, 3), round(frax_hip_adjusted,"
                               " 2) FROM v_latest_assessment WHERE patient_id = 'STEROID'"
                               ).fetchone()
    oral = "oral bisphosphonate (alendronate 70 mg weekly, or risedronate)"
    assert latest["OP-IMPROVED"] == ("osteopenia", "recommended", oral, dt.date(2025, 3, 1),
                                     ["HX-OSTEOPOROSIS-PERSISTS"])
    assert latest["FX-BLANK"][1:3] == ("recommended", oral)
    assert latest["FX-BLANK"][4] == ["HX-FRACTURE-PERSISTS"]
    # the forearm's own category is kept; the lines read T -2.7 (very high risk is not
    # met: -2.7 >= -3.0), and the 2023 osteoporosis persists; the follow-up date is the
    # central visit's (2023 + 12 months), not the forearm's own 2025
    assert latest["FOREARM"] == ("osteopenia", "recommended", oral, dt.date(2024, 3, 1),
                                 ["HX-OSTEOPOROSIS-PERSISTS", "HX-CENTRAL-SITE"])
    assert latest["FRAX-4"][1] == "consider"
    assert latest["VERY-HIGH"][1:3] == (
        "recommended", "specialist review: anabolic or parenteral therapy first")
    assert latest["STEROID"][1] == "consider" and adjusted == (21.275, 3.12)
