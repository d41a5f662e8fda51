"""`dxa export KIND`: the lists clinicians and data managers act on, for authorised staff.

Each list is one row per patient (their latest exam on or before the as-of date, under one
ruleset) or, for `quarantine`, one row per rejected input row. Unlike the report, these
lists carry patient and exam ids: this command is the one way such lists leave the
registry. Each kind reads its macro (`*_as_of(as_of)`: migration 011, and 020 for the
treatment course and the measures' lists), so a list equals its view
(`v_treatment_candidates`, `v_followup_overdue`, ...) row for row, and the SQL of every
kind is here in WORKLISTS.

The rules' wording comes from `rule_wording()`, the one place that decides where wording
is read from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.readers.access import reading, source_encrypted
from pipelines.readers.as_of import as_of_date
from pipelines.readers.worklist_files import OUTPUT_FORMATS, write_worklist
from pipelines.registry.interface import READ_LOCK_TIMEOUT_S
from pipelines.registry.rulesets import assessed_rulesets, resolve_held
from schemas.errors import DxaError

#: Columns every per-patient list starts with.
PATIENT_COLUMNS = (
    "ruleset", "patient_id", "exam_id", "exam_date", "sex",
    "round(age_years, 1) AS age_years", "scanner_serial",
)


class WorklistError(DxaError):
    """A list cannot be written; the message names the file, option or ruleset and says
    why, never a patient or exam id (the CLI shows it as one line)."""


@dataclass(frozen=True)
class Worklist:
    """One kind of list: where its rows come from, its columns and the rules it explains.

    `source` is a table macro of migration 011 called with the as-of date; `view` is the
    view that holds the same list as of today. `wording_rules` is a DuckDB list expression
    over the row's `reasons`: the rule IDs whose wording the list prints.
    """

    kind: str
    title: str
    description: str
    source: str
    view: str
    columns: tuple[str, ...]
    order_by: str
    wording_rules: str | None


def _prefixed(*prefixes: str) -> str:
    starts = " OR ".join(f"starts_with(r, '{prefix}')" for prefix in prefixes)
    return f"list_filter(reasons, lambda r: {starts})"


WORKLISTS: dict[str, Worklist] = {w.kind: w for w in (
    Worklist(
        "treatment-candidates", "Treatment candidates",
        "Patients whose latest exam says treatment recommended or to consider, and who are "
        "not on treatment.",
        "treatment_candidates_as_of($as_of)", "v_treatment_candidates",
        (*PATIENT_COLUMNS, "who_category", "z_category", "diagnostic_site",
         "diagnostic_t_score", "array_to_string(high_risk_features, '; ') AS high_risk_features",
         "frax_major_adjusted", "frax_hip_adjusted", "caroc_risk", "treatment",
         "first_line_therapy", "next_dxa_due"),
        # the lines, their FRAX adjustments, very high risk and (oc-2010) the CAROC lines
        "exam_date, patient_id", _prefixed("TX-", "BHOF-", "OC-", "VHR-", "FRAX-ADJ-"),
    ),
    Worklist(
        "overdue", "Follow-up DXA overdue",
        "Patients whose latest exam's next DXA due date is before the as-of date, with no "
        "later exam (MON-OVERDUE); patients on denosumab first (TC-DENOSUMAB).",
        "followup_overdue($as_of)", "v_followup_overdue",
        (*PATIENT_COLUMNS, "treatment", "who_category", "on_treatment", "denosumab",
         "next_dxa_due", "days_overdue"),
        "denosumab DESC, days_overdue DESC, patient_id",
        f"list_concat(['MON-OVERDUE'], {_prefixed('MON-')}, "
        "CASE WHEN denosumab THEN ['TC-DENOSUMAB'] ELSE [] END)",
    ),
    Worklist(
        "workup", "Secondary-cause workup",
        "Patients whose latest exam suggests a workup for secondary causes of bone loss.",
        "secondary_cause_workup_as_of($as_of)", "v_secondary_cause_workup",
        (*PATIENT_COLUMNS, "basis", "diagnostic_site", "diagnostic_t_score",
         "diagnostic_z_score", "z_category", "who_category", "treatment"),
        "exam_date, patient_id", _prefixed("WORKUP-"),
    ),
    Worklist(
        "vfa", "Vertebral fracture assessment",
        "Patients whose latest exam recommends a vertebral fracture assessment (VFA).",
        "vfa_candidates_as_of($as_of)", "v_vfa_candidates",
        (*PATIENT_COLUMNS, "height_loss_cm", "kyphosis", "back_pain", "who_category",
         "treatment"),
        "exam_date, patient_id", _prefixed("VFA-"),
    ),
    Worklist(
        "significant-loss", "Significant BMD loss",
        "Patients whose latest exam shows a BMD loss beyond the least significant change "
        "against an earlier exam on the same scanner.",
        "significant_loss_as_of($as_of)", "v_significant_loss",
        (*PATIENT_COLUMNS, "on_treatment", "losses", "round(largest_loss_pct, 2) AS "
         "largest_loss_pct", "loss_flags", "treatment"),
        "largest_loss_pct, patient_id", "['CHG-LOSS', 'CHG-LSC']",
    ),
    Worklist(
        "risk-assessment", "Fracture risk assessment needed",
        "Patients whose latest decision waits for a fracture risk assessment (FRAX not "
        "recorded): needs_risk_assessment, or consider through high-risk features alone. "
        "Highest CAROC category first: whose FRAX to compute first.",
        "risk_assessment_needed_as_of($as_of)", "v_risk_assessment_needed",
        (*PATIENT_COLUMNS, "who_category", "diagnostic_t_score", "caroc_risk",
         "array_to_string(caroc_reasons, '; ') AS caroc_reasons",
         "array_to_string(high_risk_features, '; ') AS high_risk_features", "treatment",
         "next_dxa_due"),
        "caroc_rank, diagnostic_t_score, patient_id",
        f"list_concat({_prefixed('TX-')}, caroc_reasons)",
    ),
    Worklist(
        "drug-holiday-review", "Drug holiday to review",
        "Patients whose latest exam completes a bisphosphonate course (5 years oral, 3 years "
        "zoledronate) with nothing arguing for continuing (TC-DRUG-HOLIDAY).",
        "drug_holiday_review_as_of($as_of)", "v_drug_holiday_review",
        (*PATIENT_COLUMNS, "treatment_drug", "treatment_start_date", "years_on_treatment",
         "total_hip_t", "femoral_neck_t", "treatment"),
        "exam_date, patient_id", "['TC-DRUG-HOLIDAY']",
    ),
    Worklist(
        "post-fracture-gap", "Fracture without timely DXA or treatment",
        "Patients with a fracture 183 days or more before the as-of date whose first exam "
        "recording it came later than 183 days after it, not on a treatment started "
        "within them (QM-POST-FRACTURE's gaps), the latest fractures first.",
        "post_fracture_gap_as_of($as_of)", "v_post_fracture_gap",
        (*PATIENT_COLUMNS, "fracture_date", "days_fracture_to_exam", "on_treatment",
         "treatment_drug", "treatment_start_date", "treatment"),
        "fracture_date DESC, patient_id", _prefixed("TX-"),
    ),
    Worklist(
        "treatment-gap", "Treatment recommended, not started",
        "Patients with treatment recommended at an exam and a later exam in the year up to "
        "the as-of date, 180 days or more after it, not on treatment there "
        "(QM-TREATMENT-GAP's numerator).",
        "treatment_gap_as_of($as_of)", "v_treatment_gap",
        (*PATIENT_COLUMNS, "recommended_on", "days_since_recommended", "on_treatment",
         "treatment"),
        "recommended_on, patient_id", _prefixed("TX-"),
    ),
    Worklist(
        "quarantine", "Quarantined input rows",
        "Input rows the registry refused, with every failed check: fix them at the source "
        "and send them again.",
        "quarantine_as_of($as_of)", "v_quarantine",
        ("run_id", "run_started_at", "path", "file_sha256", "row_number", "patient_id",
         "exam_id", "errors", "raw"),
        "run_started_at, path, row_number", None,
    ),
)}

#: Rows of an Excel sheet, the header included.
EXCEL_MAX_ROWS = 1_048_576

#: Every kind `dxa export` takes (the worklists and the pseudonymised research extract).
EXPORT_KINDS = (*WORKLISTS, "research")


def rule_wording(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(ruleset, rule_id, wording) for every ruleset the registry's assessments use.

    From the registry's `rules` table (written when a ruleset is used) where it exists;
    rules it does not hold, and registries made before it existed, take the wording of the
    catalog in `transforms/rules/catalog.py`. Switch the source here and only here.
    """
    from transforms.rules.catalog import RULES

    rulesets = con.sql("SELECT DISTINCT ruleset FROM assessments").pl()
    catalog = rulesets.join(
        pl.DataFrame({"rule_id": [r.id for r in RULES], "wording": [r.wording for r in RULES]}),
        how="cross",
    )
    has_table = con.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'rules'"
        " AND database_name = current_database()"
    ).fetchall()[0][0]
    if not has_table:
        return catalog
    recorded = con.sql("SELECT ruleset, rule_id, wording FROM rules").pl()
    missing = catalog.join(recorded, on=["ruleset", "rule_id"], how="anti")
    return pl.concat([recorded.cast(catalog.schema), missing])


def worklist_sql(worklist: Worklist) -> str:
    """The list's query: its rows for one ruleset ($ruleset) as of a date ($as_of)."""
    columns = ", ".join(worklist.columns)
    if worklist.wording_rules is None:
        return f"SELECT {columns} FROM {worklist.source} ORDER BY {worklist.order_by}"
    return f"""
    WITH base AS (SELECT * FROM {worklist.source} WHERE ruleset = $ruleset),
    shown AS (
        SELECT exam_id, ruleset, unnest({worklist.wording_rules}) AS rule_id,
               generate_subscripts({worklist.wording_rules}, 1) AS position
        FROM base
    ), wording AS (
        SELECT s.exam_id, s.ruleset,
               string_agg(s.rule_id || ': ' || coalesce(w.wording, '(no wording recorded)'),
                          ' | ' ORDER BY s.position) AS rules_wording
        FROM shown s LEFT JOIN worklist_rule_wording w USING (ruleset, rule_id)
        GROUP BY s.exam_id, s.ruleset
    )
    SELECT {columns}, array_to_string(reasons, '; ') AS reasons, wording.rules_wording
    FROM base LEFT JOIN wording USING (exam_id, ruleset)
    ORDER BY {worklist.order_by}"""


def resolve_ruleset_label(con: duckdb.DuckDBPyConnection, given: str | None,
                          error: type[DxaError] = WorklistError) -> str:
    """`ID@VERSION` of the list's ruleset: as given (the registry's one rule,
    `resolve_held`), or (none given) the registry's primary ruleset, the one its readers'
    views show, so that a what-if run under another ruleset does not switch the lists.
    `error`: the reader's own error class (`dxa patient` resolves its ruleset here too)."""
    if given is not None:
        return resolve_held(con, given, error)
    primary = registry_primary(con)
    if primary is None or primary not in assessed_rulesets(con):
        raise error("the registry holds no assessments under its primary "
                    "ruleset: give --ruleset ID")
    return primary


def registry_primary(con: duckdb.DuckDBPyConnection) -> str | None:
    """The registry's primary ruleset (`registry_primary_ruleset()`); in a registry from
    before that macro, the ruleset of its latest completed run."""
    has_macro = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name ="
                            " 'registry_primary_ruleset'").fetchall()[0][0]
    if has_macro:
        return con.execute("SELECT registry_primary_ruleset()").fetchall()[0][0]
    found = con.execute("SELECT ruleset FROM runs WHERE status = 'completed'"
                        " ORDER BY started_at DESC LIMIT 1").fetchall()
    return found[0][0] if found else None


def build_worklist(
    con: duckdb.DuckDBPyConnection, kind: str, as_of: dt.date, ruleset: str | None
) -> tuple[pl.DataFrame, str | None]:
    """(rows, ruleset label) of one list; quarantine lists have no ruleset."""
    worklist = WORKLISTS[kind]
    params: dict[str, object] = {"as_of": as_of}
    label = None
    try:
        if worklist.wording_rules is not None:
            label = resolve_ruleset_label(con, ruleset)
            params["ruleset"] = label
            con.register("worklist_rule_wording", rule_wording(con))
        return con.sql(worklist_sql(worklist), params=params).pl(), label
    except duckdb.CatalogException:
        raise WorklistError(
            "this registry lacks the worklist views (made by an older version): the next "
            "`dxa run` adds them") from None


def export_worklist(
    kind: str, db: Path, output: Path, *, as_of: str | None = None,
    ruleset: str | None = None, lock_timeout_s: float = READ_LOCK_TIMEOUT_S,
) -> int:
    """Write one list to `output` (.csv, .xlsx or .parquet); return its row count."""
    if kind not in WORKLISTS:
        raise WorklistError(f"unknown list {kind!r}: use one of {', '.join(EXPORT_KINDS)}")
    if output.suffix.lower() not in OUTPUT_FORMATS:
        raise WorklistError(f"--output {output}: the file must end in "
                            f"{', '.join(OUTPUT_FORMATS)}")
    if not output.parent.is_dir():
        raise WorklistError(f"--output {output}: no folder {output.parent}")
    day = as_of_date(as_of, WorklistError)
    with reading(db, lock_timeout_s, WorklistError) as con:
        rows, label = build_worklist(con, kind, day, ruleset)
        encrypted = source_encrypted(con)
    if output.suffix.lower() == ".xlsx" and rows.height >= EXCEL_MAX_ROWS:
        raise WorklistError(f"the list has {rows.height} rows, more than an Excel sheet "
                            "holds: write it as .csv or .parquet")
    worklist = WORKLISTS[kind]
    about = {
        "list": f"{worklist.title} (dxa export {kind})",
        "what it is": worklist.description,
        "same rows as": f"the view {worklist.view} of the registry (as of today)",
        "as of": day.isoformat(),
        "ruleset": label or "not applicable",
        "registry": db.name,
        "registry encrypted at rest": encrypted,
        "generated at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "rows": str(rows.height),
        "contains patient identifiers": "yes: for authorised staff only; do not forward",
    }
    write_worklist(rows, output, about, sheet=kind)
    return rows.height
