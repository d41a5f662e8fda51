"""`dxa measures`: Wilson intervals against scipy, small cells suppressed at 10 but not 11,
and the command's table, CSV, JSON and HTML (exact values, exit codes, no identifiers)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from measures_registry import build, exam
from scipy.stats import binomtest
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.readers.measures.outputs import SUPPRESSED, suppressed
from pipelines.registry.store import query

#: (scanner, women scanned, of whom at low risk): QM-LOW-RISK-SCREEN per scanner.
CELLS = (("S-0-11", 11, 0), ("S-1-11", 11, 1), ("S-5-12", 12, 5), ("S-11-11", 11, 11),
         ("S-10-10", 10, 10), ("S-30-47", 47, 30))
AS_OF = ["--as-of", "2025-07-01", "--period", "2025Q1"]


def _exams() -> list[dict[str, object]]:
    exams = []
    for serial, n, k in CELLS:
        for i in range(n):
            exams.append(exam(f"SECRET-{serial}-{i}", f"SECRET-P-{serial}-{i}", "2025-02-01",
                              scanner_serial=serial, bmi=25.0 if i < k else 19.0))
    return exams


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("measures-command"), _exams())


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["measures", *args])
    return result.exit_code, result.stdout, result.stderr


def test_wilson_intervals_match_scipy(db: Path) -> None:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = query(con, (
            "SELECT grp, denominator, numerator, ci_low, ci_high FROM quality_measures_as_of("
            "DATE '2025-01-01', DATE '2025-03-31', DATE '2025-07-01', "
            "registry_primary_ruleset(), 'standard') WHERE grp_by = 'scanner'"))
    assert rows.height == len(CELLS)
    for serial, n, k in CELLS:
        row = rows.filter(pl.col("grp") == serial).row(0, named=True)
        assert (row["denominator"], row["numerator"]) == (n, k)
        expected = binomtest(k, n).proportion_ci(method="wilson")
        assert row["ci_low"] == pytest.approx(expected.low, abs=1e-12)
        assert row["ci_high"] == pytest.approx(expected.high, abs=1e-12)


def test_a_denominator_of_10_is_suppressed_11_is_shown() -> None:
    rows = pl.DataFrame({"measure_id": ["A", "B"], "grp_by": "overall", "grp": "all",
                         "denominator": [10, 11], "numerator": [3, 3], "rate": [0.3, 3 / 11],
                         "ci_low": [0.1, 0.1], "ci_high": [0.6, 0.6]})
    shown = suppressed(rows)
    assert shown.row(0) == ("A", "overall", "all", SUPPRESSED, None, None, None, None)
    assert shown.row(1) == ("B", "overall", "all", "11", 3, 0.2727, 0.1, 0.6)


def test_csv_by_scanner_exact_lines(db: Path) -> None:
    code, out, _ = _run("--db", str(db), *AS_OF, "--by", "scanner", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "measure_id,grp_by,grp,denominator,numerator,rate,ci_low,ci_high"
    assert lines[1] == "QM-LOW-RISK-SCREEN,overall,all,102,57,0.5588,0.4621,0.6513"
    assert "QM-LOW-RISK-SCREEN,scanner,S-10-10,suppressed (n < 11),,,," in lines
    assert "QM-LOW-RISK-SCREEN,scanner,S-11-11,11,11,1.0,0.7412,1.0" in lines
    assert "QM-TREATMENT-GAP,overall,all,suppressed (n < 11),,,," in lines
    assert "SECRET" not in out


def test_json_holds_rows_trend_and_words(db: Path) -> None:
    code, out, _ = _run("--db", str(db), *AS_OF, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["period"] == {"label": "2025Q1", "first": "2025-01-01",
                                  "last": "2025-03-31"}
    assert [m["better"] for m in document["measures"]] == [
        "lower", "lower", "higher", "lower", "higher"]
    assert document["rows"][0]["denominator"] == 102  # a number; suppressed: the text
    assert len(document["trend"]) == 8 * 5
    assert [r["quarter"] for r in document["trend"][:8]] == [
        "2023Q2", "2023Q3", "2023Q4", "2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1"]
    assert "SECRET" not in out


def test_table_and_html(db: Path, tmp_path: Path) -> None:
    code, out, _ = _run("--db", str(db), *AS_OF, "--by", "sex")
    assert code == 0 and "Quality measures, 2025Q1" in out and "Trend, last 8 quarters" in out
    page = tmp_path / "measures.html"
    code, _, err = _run("--db", str(db), *AS_OF, "--format", "html", "--output", str(page))
    assert code == 0 and f"wrote {page}" in err
    text = page.read_text(encoding="utf-8")
    assert text.count('<div class="vega" id="chart-') == 5
    assert "QM-FOLLOWUP-KEPT: \\u2191 higher is better" in text  # a chart's title, in JSON
    assert "SECRET" not in text and "https://" not in text.split("<script>")[0]
    assert page.stat().st_mode & 0o777 == 0o600


def test_refusals_exit_1(db: Path, tmp_path: Path) -> None:
    assert _run("--db", str(db), "--format", "html")[0] == 1
    assert _run("--db", str(db), "--period", "2025Q5")[0] == 1
    assert _run("--db", str(tmp_path / "none.duckdb"))[0] == 1
    code, _, err = _run("--db", str(db), "--by", "colour")
    assert code == 2 and "colour" in err


def test_without_period_the_last_complete_quarter_before_the_report_date(db: Path) -> None:
    code, out, _ = _run("--db", str(db), "--as-of", "2025-04-01", "--format", "csv")
    assert code == 0
    assert out.splitlines()[1] == "QM-LOW-RISK-SCREEN,overall,all,102,57,0.5588,0.4621,0.6513"
    code, out, _ = _run("--db", str(db), "--as-of", "2025-03-31", "--format", "json")
    assert json.loads(out)["period"]["label"] == "2024Q4"
    assert json.loads(out)["rows"][0]["denominator"] == SUPPRESSED


def test_age_bands_in_their_order(tmp_path: Path) -> None:
    ages = (80.0, 45.0, 70.0, 55.0)  # one repeat visit in each band, listed out of order
    repeats = [exam(f"A{i}{k}", f"A{i}", day, age_years=age)
               for i, age in enumerate(ages) for k, day in enumerate(("2024-06-01",
                                                                      "2025-02-01"))]
    db = build(tmp_path, repeats)
    code, out, _ = _run("--db", str(db), *AS_OF, "--by", "age_band", "--format", "csv")
    assert code == 0
    groups = [line.split(",")[2] for line in out.splitlines()
              if line.startswith("QM-REPEAT-TOO-SOON,age_band")]
    assert groups == ["<50", "50-64", "65-74", "75+"]


def test_a_file_name_with_brackets_is_printed_as_written(db: Path, tmp_path: Path) -> None:
    output = tmp_path / "measures [draft].csv"
    code, _, err = _run("--db", str(db), *AS_OF, "--format", "csv", "--output", str(output))
    assert code == 0 and f"wrote {output}" in " ".join(err.split())
    assert output.read_text(encoding="utf-8").startswith("measure_id,grp_by,grp,")
    assert output.stat().st_mode & 0o777 == 0o600


def test_a_registry_without_the_measures_says_so(tmp_path: Path) -> None:
    import duckdb

    db = build(tmp_path, [exam("E1", "P1", "2025-02-01")])
    with duckdb.connect(str(db)) as con:  # as a registry from before migration 017
        con.execute("DROP MACRO TABLE quality_measures_over")
    code, _, err = _run("--db", str(db), *AS_OF)
    assert code == 1
    assert "the registry predates the quality measures" in " ".join(err.split())


def test_post_fracture_gives_the_hedis_band_and_its_caveat(tmp_path: Path) -> None:
    ages = [67.0] * 6 + [85.9] * 5 + [66.9, 86.0]  # 11 in HEDIS's 67-85, 2 outside it
    db = build(tmp_path, [exam(f"H{i}", f"H{i}", "2025-02-10", age_years=age,
                               last_fracture_date="2025-02-01")
                          for i, age in enumerate(ages)])
    period = ["--as-of", "2025-12-31", "--period", "2025Q1"]
    code, out, _ = _run("--db", str(db), *period, "--by", "age_band", "--format", "csv")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("QM-POST-FRACTURE,")]
    assert rows == ["QM-POST-FRACTURE,overall,all,13,13,1.0,0.7719,1.0",
                    "QM-POST-FRACTURE,age_band,65-74,suppressed (n < 11),,,,",
                    "QM-POST-FRACTURE,age_band,75+,suppressed (n < 11),,,,",
                    "QM-POST-FRACTURE,age_band,hedis_omw 67-85,11,11,1.0,0.7412,1.0"]
    assert "hedis_omw" not in out.replace("QM-POST-FRACTURE,age_band,hedis_omw", "")
    code, out, _ = _run("--db", str(db), *period, "--by", "sex", "--format", "csv")
    assert code == 0 and "hedis_omw" not in out
    code, out, _ = _run("--db", str(db), *period)
    assert code == 0 and "QM-POST-FRACTURE: higher is better (an upper bound" in " ".join(
        out.split())
    document = json.loads(_run("--db", str(db), *period, "--format", "json")[1])
    assert [m["caveat"] is not None for m in document["measures"]] == [
        False, False, False, False, True]
