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

from transforms import serial
from transforms.rules import basis, diagnosis, followup, risk, sites, treatment
from transforms.rules.declare import RULES_ENGINE, Rule
from transforms.rules.ruleset import Ruleset

__all__ = ["DECISION_RULE_IDS", "RULES", "RULES_BY_ID", "Rule", "render_catalog", "rule_rows"]

#: Every rule, in catalog order: the stage order of the decision, then serial exams.
RULES: tuple[Rule, ...] = (
    *basis.RULES,
    *sites.RULES,
    *diagnosis.RULES,
    *risk.RULES,
    *treatment.RULES,
    *followup.RULES,
    *serial.RULES,
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


def _params(rule: Rule, ruleset: Ruleset | None) -> list[str]:
    """The rule's parameter keys, with this ruleset's values when one is given."""
    if ruleset is None:
        return list(rule.params)
    return [f"{key} = {_format(ruleset.value(key))}" for key in rule.params]


def rules_of(ruleset: Ruleset) -> tuple[Rule, ...]:
    """The rules a ruleset can emit or relies on, in catalog order."""
    return RULES


#: Columns of `rule_rows` (the registry's `rules` table, without recorded_at).
RULE_ROW_SCHEMA = {
    "rule_id": pl.String,
    "ruleset": pl.String,
    "kind": pl.String,
    "wording": pl.String,
    "parameters": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
    "source": pl.String,
    "departure": pl.String,
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
                {"key": key, "value": _format(ruleset.value(key))} for key in rule.params
            ],
            "source": rule.source,
            "departure": rule.departure,
            "implemented_in": rule.implemented_in,
        }
        for rule in rules_of(ruleset)
    ]
    return pl.DataFrame(rows, schema=RULE_ROW_SCHEMA)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_catalog(fmt: str = "text", ruleset: Ruleset | None = None) -> str:
    """The catalog as plain text or a Markdown table; with a ruleset, its parameter values.

    `fmt` is "text" or "markdown".
    """
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown catalog format {fmt!r} (use 'text' or 'markdown')")
    heading = "Rule catalog" + (f" ({ruleset.label}: {ruleset.title})" if ruleset else "")
    if fmt == "markdown":
        lines = [
            f"# {heading}",
            "",
            "| ID | rule | parameters | source | departure from guidelines | implemented in |",
            "|---|---|---|---|---|---|",
        ]
        for rule in RULES:
            cells = (
                f"`{rule.id}`",
                rule.wording,
                "; ".join(_params(rule, ruleset)) or "-",
                rule.source,
                rule.departure or "",
                rule.implemented_in,
            )
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        return "\n".join(lines) + "\n"
    def field(label: str, text: str) -> str:
        return textwrap.fill(
            f"{label}{text}",
            width=96,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )

    lines = [heading, "=" * len(heading), ""]
    for rule in RULES:
        lines.append(f"{rule.id}  [{rule.kind}]")
        lines.append(field("", rule.wording))
        if rule.params:
            lines.append("  parameters:")
            lines += [f"    {param}" for param in _params(rule, ruleset)]
        lines.append(field("source: ", rule.source))
        if rule.departure:
            lines.append(field("departure: ", rule.departure))
        if rule.implemented_in != RULES_ENGINE:
            lines.append(field("implemented in: ", rule.implemented_in))
        lines.append("")
    return "\n".join(lines)
