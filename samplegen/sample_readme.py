"""The committed sample's README.md, written from its manifest.

Every number in it comes from the manifest (`samplegen.__main__.write_sample`), so the
README always describes the files beside it; the prose states the generator's rates
(`samplegen.canonical`, `samplegen.steps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from samplegen.bad_rows import EXACT_DUPLICATE, FRACTURE_SITE_KINDS, KINDS
from samplegen.canonical import SCANNERS
from samplegen.situations import SITUATIONS


class _Period(Protocol):
    first: object
    last: object
    name: str


#: What each defect kind does to its row (the bad-row table).
DEFECTS: dict[str, str] = {
    "missing_exam_id": "exam_id blank",
    "missing_sex": "sex blank",
    "sex_X": "sex `X`",
    "menopausal_status_sometimes": "menopausal_status `sometimes`",
    "fracture_site_unknown_code": "prior_fracture_sites `wrist` or `hip;femur` (a code "
    "the contract does not allow), prior_fragility_fracture yes",
    "fracture_sites_contradict": "prior_fragility_fracture no, prior_fracture_sites "
    "`vertebral` (contradictory)",
    "t_score_out_of_range": "a T-score of 12 (outside [-8, 8])",
    "bmd_zero": "a BMD of 0",
    "bmd_too_high": "a BMD of 3.5 g/cm2",
    "age_130": "age_years 130 (birth_date blank)",
    "invalid_exam_date": "exam_date `2024-02-30`",
    "future_exam_date": "exam_date 15 years after the real one (in the future)",
    "birth_after_exam": "birth_date after exam_date (age_years blank)",
    "no_site_scores": "no T- or Z-score at any site (BMDs kept)",
    "non_numeric_number": "`abc` in a number column (weight_kg, femoral_neck_bmd or "
    "frax_major_pct)",
    "bool_maybe": "`maybe` in a boolean column",
    "negative_glucocorticoid_dose": "glucocorticoid_mg_day -5",
    "frax_150": "frax_major_pct 150",
    "conflicting_exam_id": "repeated exam_id, different weight_kg",
    EXACT_DUPLICATE: "identical copy of a good row (not a bad row)",
}


def _pct(count: int, base: int) -> str:
    return f"{100 * count / base:.1f}%" if base else "-"


def _files_section(periods: Sequence[_Period], manifest: dict) -> list[str]:
    files = manifest["files"]
    kinds = manifest["kinds"]
    total_rows = sum(f["rows"] for f in files.values())
    total_bad = sum(f["bad_rows"] for f in files.values())
    total_dup = sum(f["exact_duplicates"] for f in files.values())
    lines = [
        "## Files",
        "",
        "One file per exam period (by the exam date before any corruption); rows in exam-date",
        "order. UTF-8, comma-separated, header in contract order, ISO dates, `.` decimals,",
        "booleans as a per-row mix of true/false, yes/no, Y/N and 1/0, blank = not recorded.",
        "",
        "| file | exam dates | data rows | bad rows | exact duplicates |",
        "|---|---|---|---|---|",
    ]
    for period in periods:
        f = files[period.name]
        lines.append(
            f"| `{period.name}` | {period.first} .. {period.last} | {f['rows']} | "
            f"{f['bad_rows']} | {f['exact_duplicates']} |"
        )
    lines.append(f"| total | | {total_rows} | {total_bad} | {total_dup} |")
    valid = total_rows - total_bad - total_dup
    site_rows = sum(kinds.get(kind, 0) for kind in FRACTURE_SITE_KINDS)
    lines += [
        "",
        f"Expected after loading all three files: {valid} valid",
        f"exams, {total_bad} quarantined rows, {total_dup} exact duplicate rows loaded once.",
        "The column `prior_fracture_sites` (contract §1, clinical rules version 2) is in every",
        f"file; its checks quarantine the {site_rows} rows of `{FRACTURE_SITE_KINDS[0]}` and",
        f"`{FRACTURE_SITE_KINDS[1]}`.",
    ]
    return lines


def _data_section(manifest: dict) -> list[str]:
    spread = manifest["repeat_patients"]
    return [
        "## What is in the data",
        "",
        "- ~80% women; ages mostly 40-90 (a few 20-39, very few 15-19); women's",
        "  `menopausal_status` mostly `post`, `pre` when young, some `peri`, some",
        "  `unknown`/blank; blank for men. Some rows carry only `birth_date` or only",
        "  `age_years`.",
        "- T-scores fall with age (women: mean about -0.5 at 45, -2.5 at 85; SD about 1.0),",
        "  correlated across sites; Z-scores are T minus the age/sex mean; BMD follows T on",
        "  each vendor's reference (Hologic: spine 1.047 + 0.11 T, total hip 0.94 + 0.12 T,",
        "  femoral neck 0.858 + 0.12 T, radius 0.70 + 0.06 T; GE Lunar BMD is higher by",
        "  12% / 6% / 10% at spine / total hip / neck for the same T).",
        "- Not every exam has every site (spine ~90%, hips ~95%, radius 33% ~15%).",
        "  Each patient has a usual hip (70% left) and a usual vertebra count for the spine",
        "  result (`spine_vertebrae` mostly 4, some 3 or 2, rarely 1: invalid for diagnosis);",
        "  8% of later exams scan the other hip (its BMD differs by ~3%) and 8% another set",
        "  of vertebrae (BMD ~2% different); `hip_side` is blank in 3% of hip exams.",
        "- Risk factors with plausible prevalences and blanks (glucocorticoids 8% of",
        "  patients); FRAX blank in ~15%. `prior_fracture_sites` lists the sites (hip,",
        "  vertebral, humerus, pelvis, forearm, other; two sites in 20%) for 75% of the",
        "  patients with a prior fragility fracture; it is never beside a recorded \"no\"",
        "  (sites imply yes; a blank `prior_fragility_fracture` may sit beside them).",
        f"- Repeat exams: {spread['patients_with_repeat_exams']} patients have 2-3 exams 1-3",
        f"  years apart; {spread['in_more_than_one_file']} of them span more than one file,",
        f"  {spread['with_two_exams_in_the_same_file']} have two exams in the same file;",
        f"  {spread['all_on_one_scanner']} stayed on one scanner (serial),",
        f"  {spread['on_more_than_one_scanner']} changed scanner. Later BMD changes by",
        "  -4%..+2% per interval (on treatment -1%..+4%), 15% of intervals beyond the LSC",
        "  (~5%). Slow losers (a quarter of the patients with three exams) lose 3.6-4.4% per",
        "  interval on one scanner and region, on treatment or not: under the LSC at each",
        "  visit, beyond it against the baseline.",
    ]


def _situations_section(manifest: dict) -> list[str]:
    counts = manifest["situations"]
    lines = [
        "## Situations of clinical rules version 2",
        "",
        "How often each situation that the version-2 rules decide occurs among the generated",
        "exams (before bad rows; `samplegen.situations` defines each from the contract",
        "columns; basis and lowest valid T-score as in clinical-rules.md §1-2, the LSC from",
        "the default precision):",
        "",
        "| situation | count | share | rules |",
        "|---|---|---|---|",
    ]
    for situation in SITUATIONS:
        found = counts[situation.name]
        share = f"{_pct(found['count'], found['of'])} of {found['of']} {situation.unit}"
        lines.append(
            f"| {situation.description} | {found['count']} {situation.unit} | {share} | "
            f"{situation.rules} |"
        )
    return lines


def _manifest_section(manifest: dict) -> list[str]:
    kinds = manifest["kinds"]
    lines = [
        "## Bad-row manifest",
        "",
        "Injected defects (rows; `conflicting_exam_id` = two rows sharing an exam_id with",
        "different content, both bad; `exact_duplicate` = identical copies of good rows,",
        "duplicates rather than bad rows). `manifest.json` lists every one with its file and",
        "row number (1 = first data row, as in the `quarantine` table).",
        "",
        "| kind | rows | defect |",
        "|---|---|---|",
    ]
    for name in (*KINDS, EXACT_DUPLICATE):
        if name in kinds:
            lines.append(f"| `{name}` | {kinds[name]} | {DEFECTS[name]} |")
    lines += [
        "",
        "| file | row_number | exam_id | kind |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r['file']}` | {r['row_number']} | {r['exam_id'] or '(blank)'} | `{r['kind']}` |"
        for r in manifest["rows"]
    ]
    return lines


def readme(periods: Sequence[_Period], manifest: dict) -> str:
    """The sample's README.md text."""
    lines = [
        "# Sample data (synthetic)",
        "",
        "Synthetic DXA exams in the canonical export format (registry contract §1), made by",
        "`samplegen` (no real patient data). Regenerate, byte for byte, from the repository",
        "root with:",
        "",
        "```",
        manifest["command"],
        "```",
        "",
        f"Seed `{manifest['seed']}`, {manifest['exams_generated']} generated exams, "
        f"bad-row fraction {manifest['bad_fraction']}.",
        "",
        *_files_section(periods, manifest),
        "",
        *_data_section(manifest),
        "",
        "Scanners:",
        "",
        "| manufacturer | model | serial |",
        "|---|---|---|",
        *[f"| {s.manufacturer} | {s.model} | {s.serial} |" for s in SCANNERS],
        "",
        *_situations_section(manifest),
        "",
        *_manifest_section(manifest),
    ]
    return "\n".join(lines) + "\n"
