"""How a new rules version moves patients: two registries of the same inputs, one loaded
by the old code and ruleset, one by the new; each patient's latest exam compared.

    .venv/bin/python bench/rule_version_transitions.py OLD.duckdb NEW.duckdb

Prints, per transition (old treatment -> new treatment), how many patients moved and
the rule that set the new treatment (VHR-ESCALATE where very high risk raised it, else
the first of the ruleset's lines that matched, from `reasons`), and the patients whose
latest exam is in one registry only (an input row the new version quarantines, say).
Counts only: no patient or exam id is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

#: The rule that set a treatment: very high risk first, then the lines in the order
#: the shipped rulesets evaluate them (a rule not listed here sorts last).
DECIDING = ("VHR-ESCALATE", "TX-ON-TREATMENT", "TX-FRAGILITY-FX", "TX-OSTEOPOROSIS",
            "TX-VERTEBRAL-FX", "TX-OSTEOPOROSIS-HISTORY", "TX-FRAX-HIGH", "TX-RISK-FEATURES",
            "TX-VERTEBRAL-FX-NORMAL-BMD", "TX-FRAX-MISSING", "TX-LOW-RISK", "TX-NORMAL")

QUERY = """
WITH old AS (SELECT patient_id, exam_id, treatment, reasons FROM o.v_latest_assessment),
     new AS (SELECT patient_id, exam_id, treatment, reasons FROM n.v_latest_assessment),
     both_ AS (
        SELECT old.treatment AS old_treatment, new.treatment AS new_treatment,
               list_filter(new.reasons, r -> list_contains($deciding, r)) AS deciding
        FROM old JOIN new USING (patient_id))
SELECT old_treatment, new_treatment, deciding, count(*) AS patients
FROM both_ WHERE old_treatment IS DISTINCT FROM new_treatment
GROUP BY ALL ORDER BY patients DESC
"""


def _first(deciding: list[str]) -> str:
    """The deciding rule among a row's reasons, in DECIDING's order."""
    ranked = sorted(deciding, key=DECIDING.index)
    return ranked[0] if ranked else "(none)"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    old, new = (Path(a) for a in argv)
    con = duckdb.connect()
    con.execute(f"ATTACH '{old}' AS o (READ_ONLY)")
    con.execute(f"ATTACH '{new}' AS n (READ_ONLY)")
    rows = con.execute(QUERY, {"deciding": list(DECIDING)}).fetchall()
    totals: dict[tuple[str, str, str], int] = {}
    for old_t, new_t, deciding, n in rows:
        key = (old_t, new_t, _first(deciding))
        totals[key] = totals.get(key, 0) + n
    same = con.execute("SELECT count(*) FROM o.v_latest_assessment o JOIN"
                       " n.v_latest_assessment n USING (patient_id)"
                       " WHERE o.treatment = n.treatment").fetchone()[0]
    only = con.execute("SELECT (SELECT count(*) FROM o.v_latest_assessment WHERE patient_id"
                       " NOT IN (SELECT patient_id FROM n.v_latest_assessment)),"
                       " (SELECT count(*) FROM n.v_latest_assessment WHERE patient_id"
                       " NOT IN (SELECT patient_id FROM o.v_latest_assessment))").fetchone()
    moved = sum(totals.values())
    print(f"patients: {same + moved} in both, {moved} changed treatment, {same} unchanged;"
          f" only in the old registry: {only[0]}, only in the new: {only[1]}")
    print(f"{'old':<24}{'new':<24}{'set by':<26}patients")
    for (old_t, new_t, rule), n in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{old_t or '-':<24}{new_t or '-':<24}{rule:<26}{n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
