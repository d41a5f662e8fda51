"""The one rule catalog, built from the rules each stage module declares beside its code.

Clinicians review the rules here (`dxa rules`), and the decision code takes its `reasons`
order from it, so the documentation and the behaviour cannot drift apart. A rule's
declaration (ID, kind, wording, parameters, source, departure) lives in the stage module
that decides it (`declare.Rule`); this module only gathers them in catalog order and
renders them. The wording states each interpretation the spec left open
(clinical-rules.md is authoritative).
"""

from __future__ import annotations

import textwrap

import polars as pl

from transforms import serial, treatment_course, tscore
from transforms.precision import LSC_FACTOR, load_precision
from transforms.rules import (
    basis,
    caroc,
    diagnosis,
    followup,
    frax_adjust,
    history_rules,
    risk,
    sites,
    treatment_lines,
    very_high_risk,
)
from transforms.rules.declare import RULES_ENGINE, Rule
from transforms.rules.ruleset import DEFAULT_RULESET, Ruleset, available_rulesets

__all__ = ["DECISION_RULE_IDS", "RULES", "RULES_BY_ID", "Rule", "render_catalog", "rule_rows"]

#: Every rule, in catalog order: the stage order of the decision, then serial exams,
#: then the treatment course.
RULES: tuple[Rule, ...] = (
    *basis.RULES,
    *sites.RULES,
    *diagnosis.RULES,
    *tscore.RULES,
    *risk.RULES,
    *frax_adjust.RULES,
    *treatment_lines.RULES,
    *very_high_risk.RULES,
    *caroc.RULES,
    *followup.RULES,
    *caroc.MONITORING_RULES,
    *history_rules.RULES,
    *serial.RULES,
    *treatment_course.RULES,
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
#: IDs decided per exam by `transforms.rules.decide`, in catalog (= reasons) order.
DECISION_RULE_IDS: tuple[str, ...] = tuple(
    rule.id for rule in RULES if rule.implemented_in == RULES_ENGINE
)


def _format(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def rules_of(ruleset: Ruleset) -> tuple[Rule, ...]:
    """The rules a ruleset can emit or relies on, in catalog order: every rule but the
    treatment lines it does not list."""
    listed = {line.id for line in ruleset.treatment.lines}
    return tuple(r for r in RULES if r.id not in treatment_lines.LINE_IDS or r.id in listed)


def parameter_values(rule: Rule, ruleset: Ruleset) -> list[tuple[str, str]] | None:
    """(key, value as text) of what the rule reads in `ruleset`; None if not its rule.

    A treatment line's first value is the level the ruleset gives it (`level`).
    """
    if rule not in rules_of(ruleset):
        return None
    values = [(key, _format(ruleset.value(key))) for key in rule.params]
    if rule.id in treatment_lines.LINE_IDS:
        position = [line.id for line in ruleset.treatment.lines].index(rule.id) + 1
        values = [("line", str(position)), ("level", str(ruleset.treatment.level_of(rule.id))),
                  *values]
    return values


def precision_note() -> str:
    """Where the serial rules' precision comes from, with the shipped defaults."""
    table = load_precision()
    defaults = ", ".join(
        f"{site} {pct:g}% (LSC {LSC_FACTOR * pct:.1f}%)" for site, pct in table.defaults.items()
    )
    return (
        f"Precision (%CV) per scanner serial and site from the registry's precision file "
        f"(config/precision.toml, or dxa run --precision FILE); shipped defaults: "
        f"{defaults}; a site without precision gets no verdict."
    )


#: Columns of `rule_rows` (the registry's `rules` table, without recorded_at).
RULE_ROW_SCHEMA = {
    "rule_id": pl.String,
    "ruleset": pl.String,
    "kind": pl.String,
    "wording": pl.String,
    "parameters": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
    "source": pl.String,
    "departure": pl.String,
    "caveat": pl.String,
    "implemented_in": pl.String,
}


def rule_rows(ruleset: Ruleset) -> pl.DataFrame:
    """One row per rule of `ruleset`, its parameters with this ruleset's values (as text).

    `parameters` is a list of key/value entries (DuckDB turns it into a MAP).
    """
    rows = [
        {
            "rule_id": rule.id,
            "ruleset": ruleset.label,
            "kind": rule.kind,
            "wording": rule.wording,
            "parameters": [
                {"key": key, "value": value}
                for key, value in parameter_values(rule, ruleset) or []
            ],
            "source": rule.source,
            "departure": rule.departure,
            "caveat": rule.caveat,
            "implemented_in": rule.implemented_in,
        }
        for rule in rules_of(ruleset)
    ]
    return pl.DataFrame(rows, schema=RULE_ROW_SCHEMA)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value_text(rule: Rule, ruleset: Ruleset) -> str:
    values = parameter_values(rule, ruleset)
    if values is None:
        return "not in this ruleset"
    return "; ".join(f"{key} = {value}" for key, value in values) or "-"


def _notes(rule: Rule) -> list[tuple[str, str]]:
    """(label, text) lines shown under a rule: departure, where decided, what input
    formats cannot tell it, precision."""
    notes = []
    if rule.departure:
        notes.append(("departure from guidelines: ", rule.departure))
    if rule.caveat:
        notes.append(("caveat: ", rule.caveat))
    if rule.implemented_in != RULES_ENGINE:
        notes.append(("decided in: ", rule.implemented_in))
    if rule.input_limits:
        notes.append(("what input formats cannot tell: ", rule.input_limits))
    if rule.kind == "serial":
        notes.append(("precision: ", precision_note()))
    return notes


def _heading(rulesets: list[Ruleset]) -> list[str]:
    return [f"- {rs.label}: {rs.title} (source: {rs.source})" for rs in rulesets]


def _markdown(rulesets: list[Ruleset]) -> str:
    lines = [
        "# Rule catalog",
        "",
        "Generated by `dxa rules --markdown` from the rules' declarations and the shipped "
        "rulesets; do not edit by hand.",
        "",
        *_heading(rulesets),
        "",
        "| ID | kind | rule | " + " | ".join(f"{rs.label} values" for rs in rulesets)
        + " | source | departure from guidelines |",
        "|---|---|---|" + "---|" * len(rulesets) + "---|---|",
    ]
    for rule in RULES:
        wording = rule.wording
        for label, text in _notes(rule):
            if not label.startswith("departure"):
                wording += f" ({label.rstrip(': ')}: {text})"
        cells = (
            f"`{rule.id}`",
            rule.kind,
            wording,
            *(_value_text(rule, rs) for rs in rulesets),
            rule.source,
            rule.departure or "",
        )
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _field(label: str, text: str) -> str:
    return textwrap.fill(f"{label}{text}", width=96, initial_indent="  ",
                         subsequent_indent="    ", break_on_hyphens=False)


def _text(rulesets: list[Ruleset]) -> str:
    heading = "Rule catalog"
    lines = [heading, "=" * len(heading), "", *_heading(rulesets), ""]
    for rule in RULES:
        lines.append(f"{rule.id}  [{rule.kind}]")
        lines.append(_field("", rule.wording))
        for rs in rulesets:
            lines.append(_field(f"{rs.label}: ", _value_text(rule, rs)))
        lines.append(_field("source: ", rule.source))
        lines += [_field(label, text) for label, text in _notes(rule)]
        lines.append("")
    return "\n".join(lines)


def shipped_rulesets() -> list[Ruleset]:
    """The valid shipped rulesets, default first."""
    found = [r for r in available_rulesets() if isinstance(r, Ruleset)]
    return sorted(found, key=lambda r: (r.id != DEFAULT_RULESET, r.id))


def render_catalog(fmt: str = "text", rulesets: list[Ruleset] | Ruleset | None = None) -> str:
    """The catalog as plain text or a Markdown table, with each ruleset's values side by
    side (default: every shipped ruleset). `fmt` is "text" or "markdown"."""
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown catalog format {fmt!r} (use 'text' or 'markdown')")
    if rulesets is None:
        rulesets = shipped_rulesets()
    elif isinstance(rulesets, Ruleset):
        rulesets = [rulesets]
    return _markdown(rulesets) if fmt == "markdown" else _text(rulesets)
