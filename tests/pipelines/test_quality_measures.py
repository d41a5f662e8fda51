"""The quality measures' SQL (migrations 017 and 018) on hand-built registries, counted by hand.

Each test builds the exams a measure reads, both sides of every bound, and names the
patients it expects in the denominator and the numerator; the macro's counts must match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest
from measures_registry import cases, exam, fill

from pipelines.registry.store import migrate


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    migrate(connection)
    yield connection
    connection.close()


def test_low_risk_screen_counts_first_scans_of_women_50_to_64(
        con: duckdb.DuckDBPyConnection) -> None:
    on = "2025-02-01"
    fill(con, [
        exam("L1", "P1", on, age_years=50.0),                       # den, num (50 is in)
        exam("L2", "P2", on, age_years=49.9),                       # 49: out
        exam("L3", "P3", on, age_years=64.9),                       # den, num (64 is in)
        exam("L4", "P4", on, age_years=65.0),                       # 65: out
        exam("L5a", "P5", "2024-12-31"), exam("L5b", "P5", on),     # not the first exam
        exam("L6", "P6", on, sex="M"),                              # a man: out
        exam("L7", "P7", on, bmi=20.0),                             # den (BMI <= 20)
        exam("L8", "P8", on, bmi=20.1),                             # den, num
        exam("L9", "P9", on, prior_fracture_sites=["hip"]),         # den (fracture)
        exam("L10", "P10", on, on_treatment=True),                  # den (on treatment)
        exam("L11", "P11", on, glucocorticoid_mg_day=5.0, glucocorticoid_months=3.0),
        exam("L12", "P12", on, glucocorticoid_mg_day=5.0, glucocorticoid_months=2.9),  # num
        exam("L13", "P13", on, alcohol_units_day=2.0),              # den, num
        exam("L14", "P14", on, alcohol_units_day=2.1),              # den
        exam("L15", "P15", on, parent_hip_fracture=True),           # den
        exam("L16", "P16", on, vertebral_fracture=True),            # den
        exam("L17", "P17", "2025-04-01"),                           # after the period
        exam("L18", "P18", "2024-12-31"),                           # before the period
        # a fracture recorded on a same-day exam counts (history)
        exam("L19a", "P19", on), exam("L19b", "P19", on, prior_fragility_fracture=True),
    ])
    denominator = ["P1", "P3", "P7", "P8", "P9", "P10", "P11", "P12", "P13", "P14", "P15",
                   "P16", "P19"]
    numerator = ["P1", "P3", "P8", "P12", "P13"]
    assert cases(con, "QM-LOW-RISK-SCREEN", "2025-01-01", "2025-03-31", "2025-06-30") == (
        len(denominator), len(numerator))


def test_repeat_too_soon_counts_repeats_under_730_days(con: duckdb.DuckDBPyConnection) -> None:
    fill(con, [
        exam("R1a", "R1", "2023-01-02"), exam("R1b", "R1", "2025-01-01"),   # 730 d: den
        exam("R2a", "R2", "2023-01-03"), exam("R2b", "R2", "2025-01-01"),   # 729 d: num
        exam("R3a", "R3", "2024-06-01", femoral_neck_t=-1.5),               # T -1.5: out
        exam("R3b", "R3", "2025-06-01"),
        exam("R4a", "R4", "2024-06-01", femoral_neck_t=-1.4),               # T -1.4: num
        exam("R4b", "R4", "2025-06-01"),
        exam("R5a", "R5", "2022-01-01", prior_fragility_fracture=True),     # history: out
        exam("R5b", "R5", "2024-01-01"), exam("R5c", "R5", "2025-01-01"),
        exam("R6a", "R6", "2024-01-01"), exam("R6b", "R6", "2025-01-01", on_treatment=True),
        exam("R7a", "R7", "2024-01-01", on_treatment=True), exam("R7b", "R7", "2025-01-01"),
        # the previous exam is forearm-only: the one before it (1004 days) is compared
        exam("R8a", "R8", "2022-06-01"),
        exam("R8b", "R8", "2024-06-01", femoral_neck_t=None, radius_33_t=-1.0),
        exam("R8c", "R8", "2025-03-01"),
        exam("R9", "R9", "2025-03-01"),                                     # first exam
        exam("R10a", "R10", "2024-06-01", femoral_neck_t=None, femoral_neck_z=0.5),  # no T
        exam("R10b", "R10", "2025-03-01"),
        # two same-day exams in the period are one visit
        exam("R11a", "R11", "2024-06-01"), exam("R11b", "R11", "2025-02-01"),
        exam("R11c", "R11", "2025-02-01"),
        exam("R12a", "R12", "2025-06-01"), exam("R12b", "R12", "2026-01-02"),  # after 2025
    ])
    denominator = ["R1", "R2", "R4", "R8", "R11"]
    numerator = ["R2", "R4", "R11"]
    assert cases(con, "QM-REPEAT-TOO-SOON", "2025-01-01", "2025-12-31", "2026-06-30") == (
        len(denominator), len(numerator))


def test_followup_kept_counts_central_visits_by_due_plus_90(
        con: duckdb.DuckDBPyConnection) -> None:
    fill(con, [
        exam("F1a", "F1", "2024-01-15", next_dxa_due="2025-01-15"),
        exam("F1b", "F1", "2025-04-15"),                                 # due + 90: num
        exam("F2a", "F2", "2024-01-15", next_dxa_due="2025-01-15"),
        exam("F2b", "F2", "2025-04-16"),                                 # due + 91: den
        exam("F3a", "F3", "2024-01-15", next_dxa_due="2025-01-15"),
        exam("F3b", "F3", "2025-04-01", femoral_neck_t=None, radius_33_t=-1.0),  # forearm
        exam("F4", "F4", "2024-01-15", next_dxa_due="2024-12-31"),       # before the period
        exam("F5", "F5", "2024-01-15", next_dxa_due="2025-04-01"),       # after the period
        # the latest visit by the period's end is due later: out
        exam("F6a", "F6", "2024-01-01", next_dxa_due="2025-02-01"),
        exam("F6b", "F6", "2024-06-01", next_dxa_due="2026-06-01"),
        # a visit in the period is the latest by its end: its own due date decides (out)
        exam("F7a", "F7", "2024-01-15", next_dxa_due="2025-01-15"),
        exam("F7b", "F7", "2025-03-31"),
        exam("F8a", "F8", "2024-01-10", next_dxa_due="2025-01-10"),
        exam("F8b", "F8", "2025-04-10"),                                 # due + 90: num
    ])
    assert cases(con, "QM-FOLLOWUP-KEPT", "2025-01-01", "2025-03-31", "2025-07-01") == (4, 2)
    # read on 2025-04-12: only F8 was due 90 days before
    assert cases(con, "QM-FOLLOWUP-KEPT", "2025-01-01", "2025-03-31", "2025-04-12") == (1, 1)


def test_followup_kept_needs_the_due_date_90_days_before_the_report(
        con: duckdb.DuckDBPyConnection) -> None:
    fill(con, [exam("D1", "D1", "2024-03-31", next_dxa_due="2025-03-31")])
    assert cases(con, "QM-FOLLOWUP-KEPT", "2025-01-01", "2025-03-31", "2025-06-29") == (1, 0)
    assert cases(con, "QM-FOLLOWUP-KEPT", "2025-01-01", "2025-03-31", "2025-06-28") == (0, 0)


def test_treatment_gap_counts_untreated_180_days_after_a_recommendation(
        con: duckdb.DuckDBPyConnection) -> None:
    fill(con, [
        exam("G1a", "G1", "2024-10-01", treatment="recommended"),
        exam("G1b", "G1", "2025-04-01"),                                 # 182 d, untreated
        exam("G2a", "G2", "2024-10-03", treatment="recommended"),
        exam("G2b", "G2", "2025-04-01", on_treatment=True),              # 180 d, treated
        exam("G3a", "G3", "2024-10-04", treatment="recommended"),
        exam("G3b", "G3", "2025-04-01"),                                 # 179 d: out
        exam("G4a", "G4", "2024-01-01", treatment="consider"),
        exam("G4b", "G4", "2025-04-10"),                                 # not recommended
        exam("G5a", "G5", "2024-01-01", treatment="recommended"),
        exam("G5b", "G5", "2025-07-01"),                                 # after the period
        exam("G6a", "G6", "2024-01-01", treatment="recommended"),        # latest counts:
        exam("G6b", "G6", "2025-04-10"), exam("G6c", "G6", "2025-06-10", on_treatment=True),
        exam("G7a", "G7", "2024-01-01", treatment="recommended"),
        exam("G7b", "G7", "2025-05-01", treatment="drug_holiday"),       # never counted
    ])
    denominator = ["G1", "G2", "G6"]
    numerator = ["G1"]
    assert cases(con, "QM-TREATMENT-GAP", "2025-04-01", "2025-06-30", "2025-12-31") == (
        len(denominator), len(numerator))


def test_post_fracture_counts_a_scan_or_treatment_within_183_days(
        con: duckdb.DuckDBPyConnection) -> None:
    """Q1 2025 as of 2025-08-31: a fracture on 2025-03-01 is 183 days before it."""
    jan15 = {"last_fracture_date": "2025-01-15"}      # + 183 days: 2025-07-17
    fill(con, [
        exam("F1", "F1", "2025-02-10", last_fracture_date="2025-02-01"),    # den, num
        exam("F2", "F2", "2025-01-10", last_fracture_date="2024-12-31"),    # before the period
        exam("F3", "F3", "2025-04-10", last_fracture_date="2025-04-01"),    # after the period
        exam("F4", "F4", "2025-03-01", last_fracture_date="2025-01-01"),    # den, num
        exam("F5", "F5", "2025-03-05", last_fracture_date="2025-03-01"),    # 183 d: den, num
        exam("F6", "F6", "2025-03-05", last_fracture_date="2025-03-02"),    # 182 d: out
        exam("F7", "F7", "2025-07-17", **jan15),                            # 183 d: den, num
        exam("F8", "F8", "2025-07-18", **jan15),                            # 184 d: den
        exam("F9", "F9", "2025-07-18", on_treatment=True,                   # den, num
             treatment_start_date="2025-07-17", **jan15),
        exam("F10", "F10", "2025-07-18", on_treatment=True,                 # 184 d: den
             treatment_start_date="2025-07-18", **jan15),
        exam("F11", "F11", "2025-07-18", treatment_start_date="2025-03-01",  # not on it: den
             **jan15),
        exam("F12", "F12", "2025-07-18", on_treatment=True,                 # before it: den
             treatment_start_date="2025-01-14", **jan15),
        # the first exam recording the fracture is late; a later one on treatment started
        # within 183 days does not count as the first
        exam("F13a", "F13", "2025-07-20", **jan15),
        exam("F13b", "F13", "2025-08-01", on_treatment=True,
             treatment_start_date="2025-06-01", **jan15),                   # den
        # an earlier exam that does not record the fracture is not the first recording it
        exam("F14a", "F14", "2024-06-01"),
        exam("F14b", "F14", "2025-02-01", last_fracture_date="2025-01-20"),  # den, num
        exam("F15", "F15", "2025-09-01", last_fracture_date="2025-02-01"),  # after the report
        # two fractures in the period: one case, the earliest (scanned 36 days after it)
        exam("F16a", "F16", "2025-02-15", last_fracture_date="2025-01-10"),
        exam("F16b", "F16", "2025-08-01", last_fracture_date="2025-03-01"),  # den, num
    ])
    denominator = ["F1", "F4", "F5", "F7", "F8", "F9", "F10", "F11", "F12", "F13", "F14",
                   "F16"]
    numerator = ["F1", "F4", "F5", "F7", "F9", "F14", "F16"]
    assert cases(con, "QM-POST-FRACTURE", "2025-01-01", "2025-03-31", "2025-08-31") == (
        len(denominator), len(numerator))
    # as of one day earlier, the fracture of 2025-03-01 is 182 days before: F5 leaves
    assert cases(con, "QM-POST-FRACTURE", "2025-01-01", "2025-03-31", "2025-08-30") == (
        len(denominator) - 1, len(numerator) - 1)


def test_the_catalog_and_the_macros_name_the_same_measures(
        con: duckdb.DuckDBPyConnection) -> None:
    from pipelines.readers.measures.catalog import measures

    catalog = measures()
    macros = {row[0] for row in con.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'qm\\_%' "
        "ESCAPE '\\'").fetchall()}
    assert {m.macro for m in catalog} == macros
    year = "[{'period_first': DATE '2025-01-01', 'period_last': DATE '2025-12-31'}]"
    stacked = con.execute(f"SELECT DISTINCT measure_id FROM quality_measure_cases({year}, "
                          "DATE '2026-01-01', 'none')").fetchall()
    assert stacked == []  # an empty registry: no case, and every arm binds
    for measure in catalog:
        found = con.execute(f"SELECT * FROM {measure.macro}({year}, DATE '2026-01-01', "
                            "'none') LIMIT 0")
        assert [d[0] for d in found.description][:3] == [
            "period_first", "period_last", "measure_id"]
        assert f"'{measure.id}'" in con.execute(
            "SELECT macro_definition FROM duckdb_functions() WHERE function_name = ?",
            [measure.macro]).fetchall()[0][0]


def test_periods_counted_together_equal_each_counted_alone(
        con: duckdb.DuckDBPyConnection) -> None:
    """The trend asks for 9 periods in one call: each must count as if asked alone."""
    fill(con, [exam(f"T{i}{k}", f"T{i}", f"202{4 + k}-0{1 + i % 9}-15", age_years=50 + i,
                    next_dxa_due=f"202{5 + k}-0{1 + (i * 2) % 9}-01",
                    treatment="recommended" if i % 3 == 0 else "consider",
                    on_treatment=i % 4 == 0, femoral_neck_t=-1.0 - (i % 3) * 0.5)
               for i in range(20) for k in range(2)])
    quarters = [(f"{y}-{m:02d}-01", f"{y}-{m + 2:02d}-{30 if m in (4, 7) else 31}")
                for y in (2024, 2025) for m in (1, 4, 7, 10)]
    periods = ", ".join(f"{{'period_first': DATE '{a}', 'period_last': DATE '{b}'}}"
                        for a, b in quarters)
    together = con.execute(
        f"SELECT period_first, period_last, measure_id, grp_by, grp, denominator, numerator "
        f"FROM quality_measures_over([{periods}], DATE '2026-06-30', "
        "registry_primary_ruleset(), 'standard') ORDER BY ALL").fetchall()
    alone = []
    for a, b in quarters:
        alone += [(dt.date.fromisoformat(a), dt.date.fromisoformat(b), *row)
                  for row in con.execute(
                      "SELECT measure_id, grp_by, grp, denominator, numerator FROM "
                      "quality_measures_as_of(CAST(? AS DATE), CAST(? AS DATE), "
                      "DATE '2026-06-30', registry_primary_ruleset(), 'standard')",
                      [a, b]).fetchall()]
    assert together == sorted(alone)
    assert {row[2] for row in together} == {"QM-FOLLOWUP-KEPT", "QM-REPEAT-TOO-SOON",
                                            "QM-TREATMENT-GAP", "QM-LOW-RISK-SCREEN"}


def test_the_view_counts_the_last_complete_quarter_before_today(
        con: duckdb.DuckDBPyConnection) -> None:
    from pipelines.readers.measures.compute import last_complete_quarter

    quarter = last_complete_quarter(dt.date.today())
    before = quarter.first - dt.timedelta(days=1)
    fill(con, [exam("V1", "V1", quarter.first.isoformat()),
               exam("V2", "V2", quarter.last.isoformat(), bmi=19.0),
               exam("V3", "V3", before.isoformat()),                    # the quarter before
               exam("V4", "V4", (quarter.last + dt.timedelta(days=1)).isoformat())])
    rows = con.execute("SELECT period_start, period_end, denominator, numerator "
                       "FROM v_quality_measures WHERE measure_id = 'QM-LOW-RISK-SCREEN' "
                       "AND grp_by = 'overall'").fetchall()
    assert rows == [(quarter.first, quarter.last, 2, 1)]
