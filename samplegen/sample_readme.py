"""The committed sample's README.md, written from its manifest.

Every number in it comes from the manifest (`samplegen.__main__.write_sample`), so the
README always describes the files beside it. The prose, which states the generator's
rates (`samplegen.canonical`, `samplegen.steps`), is the template `sample_readme.md`
beside this module (`${name}` fields, filled here); this module builds its tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from string import Template
from typing import Protocol

from samplegen.bad_rows import EXACT_DUPLICATE, FRACTURE_SITE_KINDS, KINDS
from samplegen.canonical import SCANNERS
from samplegen.situations import SITUATIONS, Situation


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


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table: its header, the rule under it, then one line per row."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell) for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in rows)])


def _pct(count: int, base: int) -> str:
    return f"{100 * count / base:.1f}%" if base else "-"


def _files_fields(periods: Sequence[_Period], manifest: dict) -> dict[str, object]:
    """The files table (with its total line) and what loading all of them gives."""
    files = manifest["files"]
    total_rows = sum(f["rows"] for f in files.values())
    total_bad = sum(f["bad_rows"] for f in files.values())
    total_dup = sum(f["exact_duplicates"] for f in files.values())
    table = _table(("file", "exam dates", "data rows", "bad rows", "exact duplicates"), (
        (f"`{p.name}`", f"{p.first} .. {p.last}", files[p.name]["rows"],
         files[p.name]["bad_rows"], files[p.name]["exact_duplicates"]) for p in periods))
    total = f"| total | | {total_rows} | {total_bad} | {total_dup} |"  # a blank cell: `| |`
    return {
        "files_table": f"{table}\n{total}",
        "valid": total_rows - total_bad - total_dup,
        "total_bad": total_bad,
        "total_dup": total_dup,
        "site_rows": sum(manifest["kinds"].get(kind, 0) for kind in FRACTURE_SITE_KINDS),
        "site_kind_a": FRACTURE_SITE_KINDS[0],
        "site_kind_b": FRACTURE_SITE_KINDS[1],
    }


def _situation_row(situation: Situation, found: dict) -> tuple[str, ...]:
    share = f"{_pct(found['count'], found['of'])} of {found['of']} {situation.unit}"
    return (situation.description, f"{found['count']} {situation.unit}", share, situation.rules)


def _tables(manifest: dict) -> dict[str, str]:
    """The scanners, the situations' counts and the bad-row manifest, as tables."""
    found, kinds = manifest["situations"], manifest["kinds"]
    return {
        "scanners_table": _table(("manufacturer", "model", "serial"),
                                 ((s.manufacturer, s.model, s.serial) for s in SCANNERS)),
        "situations_table": _table(("situation", "count", "share", "rules"),
                                   (_situation_row(s, found[s.name]) for s in SITUATIONS)),
        "kinds_table": _table(("kind", "rows", "defect"), (
            (f"`{name}`", kinds[name], DEFECTS[name])
            for name in (*KINDS, EXACT_DUPLICATE) if name in kinds)),
        "rows_table": _table(("file", "row_number", "exam_id", "kind"), (
            (f"`{r['file']}`", r["row_number"], r["exam_id"] or "(blank)", f"`{r['kind']}`")
            for r in manifest["rows"])),
    }


def readme(periods: Sequence[_Period], manifest: dict) -> str:
    """The sample's README.md text: the template with the manifest's numbers and tables."""
    template = resources.files("samplegen").joinpath("sample_readme.md")
    return Template(template.read_text(encoding="utf-8")).substitute(
        command=manifest["command"],
        seed=manifest["seed"],
        exams_generated=manifest["exams_generated"],
        bad_fraction=manifest["bad_fraction"],
        **manifest["repeat_patients"],
        **_files_fields(periods, manifest),
        **_tables(manifest),
        **_study_fields(manifest["precision_study"]),
    )


def _study_fields(study: dict) -> dict[str, object]:
    """The precision study's file, counts and table of true %CV per scanner and site."""
    truth = study["true_cv_pct"]
    sites = list(next(iter(truth.values())))
    lines = ["| scanner serial | " + " | ".join(f"{s} true %CV" for s in sites) + " |",
             "|---|" + "---|" * len(sites)]
    lines += [f"| {serial} | " + " | ".join(f"{cv[s]}" for s in sites) + " |"
              for serial, cv in truth.items()]
    return {"study_file": study["file"], "study_rows": study["rows"],
            "study_patients": study["patients"], "study_table": "\n".join(lines)}
