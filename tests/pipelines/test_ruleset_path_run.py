"""A ruleset given by PATH, end to end: CSV -> prepare -> load -> DuckDB, and `dxa rules`.

Why: "a ruleset is data, not a code fork" (clinical-rules.md section 5) only holds if a
TOML file outside `rulesets/` travels the real load path and its label (ID@VERSION) and
thresholds reach the registry. The flow's plain functions are called directly (the same
wiring as bench/workers.py worker_full), so no Prefect server is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from exam_rows import make_row, write_csv
from typer.testing import CliRunner

from pipelines.cli.commands import app
from pipelines.ingest.decide import decider_for, resolve_ruleset
from pipelines.ingest.load import load_input
from pipelines.ingest.prepare import prepare_input
from pipelines.registry.duckdb_file import writer_for
from pipelines.registry.ledger import begin_run
from pipelines.registry.store import registry
from sources.base import CANONICAL_CSV, ReadOptions
from sources.detect import Input
from transforms.precision import load_precision

TEST_RULESET = Path(__file__).parents[1] / "rules" / "data" / "test-lenient.toml"
LENIENT, CORE = "test-lenient@4", "core-2025@3"

#: exam_id -> changes to the worked example (woman 62, neck T -2.1, FRAX 9 / 1.2, exam
#: 2024-03-01), each chosen to cross one of test-lenient's thresholds.
ROWS: dict[str, dict[str, Any]] = {
    "A-WORKED": {},
    "B-FRAGILITY": {"prior_fragility_fracture": "yes"},
    "C-T-1.4": {"femoral_neck_t": "-1.4"},
    "D-T-2.7": {"femoral_neck_t": "-2.7"},
    "E-SMOKER": {"current_smoker": "yes"},
    "F-MAN-55": {"sex": "M", "menopausal_status": "", "birth_date": "", "age_years": "55"},
    "G-VERT-FX": {"femoral_neck_t": "-1.3", "vertebral_fracture": "yes"},
    "H-STEROID": {"glucocorticoid_mg_day": "6", "glucocorticoid_months": "6"},
    "I-MENO-BLANK": {"menopausal_status": ""},  # flag MENOPAUSE_ASSUMED in both
}
D = dt.date
#: exam_id -> (core-2025, test-lenient) as (who_category, treatment, next_dxa_due,
#: high_risk_features); core-2025 from clinical-rules.md section 4, test-lenient from its
#: file (T cut-offs -3.0/-1.5, men WHO from 60, fragility fracture -> consider, risk
#: features reported only, vertebral fracture -> recommended in osteopenia and normal BMD
#: down to T -1.2, glucocorticoids 5 mg for 6 months, repeat at 18/36/60 months).
EXPECTED: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {
    "A-WORKED": (("osteopenia", "not_indicated", D(2026, 3, 1), []),
                 ("osteopenia", "not_indicated", D(2027, 3, 1), [])),
    "B-FRAGILITY": (("osteopenia", "recommended", D(2025, 3, 1), ["RF-FRAGILITY-FX"]),
                    ("osteopenia", "consider", D(2027, 3, 1), ["RF-FRAGILITY-FX"])),
    "C-T-1.4": (("osteopenia", "not_indicated", D(2026, 3, 1), []),
                ("normal", "not_indicated", D(2029, 3, 1), [])),
    "D-T-2.7": (("osteoporosis", "recommended", D(2025, 3, 1), []),
                ("osteopenia", "not_indicated", D(2027, 3, 1), [])),
    # version 3: a recorded, low FRAX has counted smoking already (TX-RISK-FEATURES needs
    # FRAX missing); a vertebral fracture is recommended at any T
    "E-SMOKER": (("osteopenia", "not_indicated", D(2026, 3, 1), ["RF-SMOKING"]),
                 ("osteopenia", "not_indicated", D(2027, 3, 1), ["RF-SMOKING"])),
    "F-MAN-55": (("osteopenia", "not_indicated", D(2026, 3, 1), []),
                 (None, "not_applicable", None, [])),
    "G-VERT-FX": (("osteopenia", "recommended", D(2025, 3, 1), ["RF-VERTEBRAL-FX"]),
                  ("normal", "recommended", D(2025, 9, 1), ["RF-VERTEBRAL-FX"])),
    "H-STEROID": (("osteopenia", "not_indicated", D(2026, 3, 1), []),
                  ("osteopenia", "not_indicated", D(2027, 3, 1), ["RF-GLUCOCORTICOID"])),
    "I-MENO-BLANK": (("osteopenia", "not_indicated", D(2026, 3, 1), []),
                     ("osteopenia", "not_indicated", D(2027, 3, 1), [])),
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ruleset_path")
    rows = [make_row(exam_id=exam_id, patient_id=f"P-{exam_id}", exam_date="2024-03-01", **changes)
            for exam_id, changes in ROWS.items()]
    return write_csv(folder / "exams.csv", rows)


def _run(csv: Path, db: Path, ref: str) -> duckdb.DuckDBPyConnection:
    """Load `csv` into a fresh registry under ruleset `ref`, as the flow's tasks do."""
    ruleset = resolve_ruleset(ref)
    prepared = prepare_input(Input(csv, CANONICAL_CSV), ReadOptions())
    assert prepared.error is None
    with registry(db) as con:
        run_id = f"run-{ruleset.id}"
        begin_run(con, run_id, ruleset.label)
        outcome = load_input(writer_for(con), run_id, ruleset.label, prepared, decider_for(ruleset),
                             load_precision(None))
        assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
            len(ROWS), len(ROWS), 0)
    return duckdb.connect(str(db), read_only=True)


@pytest.fixture(scope="module")
def registries(exports: Path) -> Iterator[dict[str, duckdb.DuckDBPyConnection]]:
    """One registry per ruleset: the test one by path, the default by ID."""
    folder = exports.parent
    cons = {
        LENIENT: _run(exports, folder / "lenient.duckdb", str(TEST_RULESET)),
        CORE: _run(exports, folder / "core.duckdb", "core-2025"),
    }
    yield cons
    for con in cons.values():
        con.close()


def _values(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return [row[0] for row in con.execute(sql).fetchall()]


def test_path_ruleset_label_reaches_every_table(registries) -> None:
    con = registries[LENIENT]
    assert _values(con, "SELECT DISTINCT ruleset FROM assessments") == [LENIENT]
    assert _values(con, "SELECT count(*) FROM assessments") == [len(ROWS)]
    assert _values(con, "SELECT ruleset FROM runs") == [LENIENT]
    assert _values(con, "SELECT DISTINCT ruleset FROM run_files") == [LENIENT]
    assert con.execute("SELECT exam_id, code, ruleset FROM flags ORDER BY ALL").fetchall() == [
        ("G-VERT-FX", "VERTEBRAL_FX_NORMAL_BMD", LENIENT),
        ("I-MENO-BLANK", "MENOPAUSE_ASSUMED", LENIENT)]
    assert con.execute("SELECT detail FROM flags WHERE code = 'MENOPAUSE_ASSUMED'").fetchall() == [
        ("menopausal status not recorded; assessed as postmenopausal (age >= 45)",)]
    assert _values(registries[CORE], "SELECT DISTINCT ruleset FROM assessments") == [CORE]


def test_path_ruleset_decides_by_its_own_thresholds(registries) -> None:
    sql = ("SELECT exam_id, who_category, treatment, next_dxa_due, high_risk_features "
           "FROM assessments ORDER BY exam_id")
    got = {
        label: {row[0]: tuple(row[1:]) for row in con.execute(sql).fetchall()}
        for label, con in registries.items()
    }
    for exam_id, (core, lenient) in EXPECTED.items():
        assert got[CORE][exam_id] == core, exam_id
        assert got[LENIENT][exam_id] == lenient, exam_id


def test_path_ruleset_reasons_and_therapy(registries) -> None:
    """test-lenient's own therapy text, and version 2's fallback rule at normal BMD (TX-NORMAL
    does not fire beside the vertebral-fracture indication)."""
    con = registries[LENIENT]
    therapy = dict(con.execute(
        "SELECT exam_id, first_line_therapy FROM assessments").fetchall())
    assert therapy["B-FRAGILITY"] == "test therapy"
    assert therapy["G-VERT-FX"] == "test therapy"
    assert therapy["A-WORKED"] is None
    reasons = dict(con.execute("SELECT exam_id, reasons FROM assessments").fetchall())
    assert [r for r in reasons["G-VERT-FX"] if r.startswith(("TX-", "MON-"))] == [
        "TX-VERTEBRAL-FX", "MON-TREATED"]
    assert "TX-RISK-FEATURES" not in reasons["E-SMOKER"]
    assert reasons["F-MAN-55"] == ["BASIS-ISCD-Z", "SITE-LOWEST", "Z-WITHIN"]


runner = CliRunner()


def test_dxa_rules_with_a_ruleset_path() -> None:
    """`dxa rules --ruleset PATH` shows the file's label and values (no Prefect needed)."""
    result = runner.invoke(app, ["rules", "--ruleset", str(TEST_RULESET)])
    assert result.exit_code == 0, result.output
    assert LENIENT in result.output
    assert "treatment.frax_hip_pct = 10" in result.output
    assert "monitoring.normal_months = 60" in result.output


def test_dxa_rules_with_a_bare_file_name(tmp_path: Path, monkeypatch) -> None:
    """A name without `/` or `.toml` that is a file in the current directory is a path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lenient").write_text(TEST_RULESET.read_text())
    result = runner.invoke(app, ["rules", "--ruleset", "lenient"])
    assert result.exit_code == 0, result.output
    assert LENIENT in result.output


def test_dxa_run_with_an_invalid_ruleset_path_names_file_and_key(tmp_path: Path,
                                                                  exports: Path) -> None:
    """Checked before any flow starts: one line naming the file and key, nothing written."""
    bad = tmp_path / "bad.toml"
    bad.write_text(TEST_RULESET.read_text().replace("frax_hip_pct = 10", "frax_hip_pct = 0"))
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["run", str(exports), "--db", str(db), "--ruleset", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: treatment.frax_hip_pct: must be a number greater than 0" in " ".join(
        result.output.split())
    assert "Traceback" not in result.output
    assert not db.exists()
