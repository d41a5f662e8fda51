"""What `dxa COMMAND --help` ends with: examples of the commands people type first.

Each command's `epilog`. typer prints it with rich markup, so every example is escaped
(an option list in square brackets is text, never a style); the heading line comes
first and unindented, so the examples keep their indent through typer's dedent.
"""

from __future__ import annotations

from rich.markup import escape


def _examples(*pairs: tuple[str, str]) -> str:
    """The epilog: `Examples:`, then each command line and, under it, what it does."""
    lines = ["", "Examples:"]
    for command, what in pairs:
        lines += [f"  {escape(command)}", f"      {escape(what)}"]
    return "\n".join(lines)


RUN = _examples(
    ("dxa run incoming --db registry.duckdb",
     "every export in the folder incoming, into the registry (created if missing)"),
    ("dxa run exams.csv --db registry.duckdb --date-format DMY",
     "a CSV whose dates are written day first, 15/03/2024"),
    ("dxa run incoming --move-failed failed",
     "--db from DXA_DB or dxa.toml; inputs that fail as a whole move to the folder failed"),
    ("dxa run NHANES_DIR --format nhanes --db nhanes.duckdb",
     "a folder of NHANES files (P_DEMO.XPT, P_DXXFEM.XPT, ...)"),
    ("dxa run incoming --db registry.duckdb --key-file /secure/dxa-registry.key",
     "an encrypted registry (created encrypted if missing; the key file must be 0600)"),
)

REPORT = _examples(
    ("dxa report", "the reporting copy in this folder, registry.report.duckdb, as tables"),
    ("dxa report --db /data/dxa/registry.report.duckdb --format json",
     "another registry's copy, for a machine"),
    ("dxa report --format html --output report.html", "the quality report with charts"),
    ("dxa report --as-of 2026-01-01 --format markdown --output report.md",
     "overdue follow-up as it stood on a day"),
)

EXPORT = _examples(
    ("dxa export treatment-candidates --output candidates.xlsx",
     "today's treatment candidates, with patient ids (authorised staff only)"),
    ("dxa export overdue --as-of 2026-01-01 --output overdue.csv",
     "who was overdue for a follow-up DXA on a day"),
    ("dxa export quarantine --output quarantine.csv", "the rows refused, with every reason"),
    ("dxa export research --pseudonym-key /secure/dxa-research.key --output extract.parquet",
     "a pseudonymised research extract, no identifiers"),
)

REASSESS = _examples(
    ("dxa reassess --db registry.duckdb --ruleset bhof-2022 --into whatif.duckdb",
     "a what-if: another ruleset judges a copy; the registry is left untouched"),
    ("dxa reassess --db registry.duckdb --ruleset rulesets/site.toml --latest-only",
     "a ruleset file of your own, on each patient's latest exam"),
)

COMPARE = _examples(
    ("dxa compare --db whatif.duckdb core-2025 bhof-2022",
     "how many patients change treatment level and WHO category"),
    ("dxa compare --db registry.report.duckdb core-2025@2 bhof-2022@2 --format csv",
     "the same matrices as CSV, with the rule IDs behind each cell"),
)

PREVALENCE = _examples(
    ("dxa prevalence --db nhanes.duckdb --by sex --standard us2000 --weights survey",
     "NHANES, as NCHS computes it: survey-weighted, age-adjusted, by sex"),
    ("dxa prevalence --db registry.report.duckdb --weights none --standard esp2013 "
     "--period 2025", "a registry's patients scanned in 2025, each counted once"),
)

RULES = _examples(
    ("dxa rules --markdown --output rules.md", "the catalog a clinician signs off"),
    ("dxa rules --ruleset bhof-2022", "one shipped ruleset's values only"),
    ("dxa rules --ruleset rulesets/site.toml --diff core-2025",
     "where a ruleset file of your own departs from a shipped one"),
)

MEASURES = _examples(
    ("dxa measures --db registry.report.duckdb",
     "the quality measures of the last complete quarter, and the trend over 8 quarters"),
    ("dxa measures --db registry.report.duckdb --period 2025Q3 --by scanner --format csv",
     "one quarter, per scanner, as CSV (denominators under 11 suppressed)"),
    ("dxa measures --period 2025 --format html --output measures.html",
     "--db from DXA_DB; a page with a chart per measure"),
)
