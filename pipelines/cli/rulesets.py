"""The `dxa rulesets`, `dxa reassess` and `dxa compare` commands (thin: parse, call, print).

Registered on the main app by `pipelines.cli.commands`; each command's behaviour is a call
to the application facade (`pipelines.app`).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from pipelines import app as application
from pipelines.cli.choices import choices_metavar
from pipelines.cli.console import out, run_status
from pipelines.cli.data_path_option import DataPath
from pipelines.cli.defaults import DB_ENVVAR
from pipelines.cli.group import DxaGroup
from pipelines.cli.key_option import KeyFile
from pipelines.cli.options import ReaderDb
from pipelines.readers.reporting.model import (
    Column,
    Kind,
    Section,
    counts,
    section_from_frame,
    text,
)
from pipelines.readers.reporting.render_text import section_table

#: `--db`: the registry a command works on (it must exist).
RegistryFile = Annotated[Path, typer.Option(help="Registry DuckDB file.", envvar=DB_ENVVAR)]


class CompareFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def make_rulesets_app() -> typer.Typer:
    """`dxa rulesets [--db FILE]`, `... forget ID@VERSION`, `... primary ID@VERSION`."""
    app = typer.Typer(cls=DxaGroup, invoke_without_command=True, no_args_is_help=False,
                      help="List rulesets (shipped, or held by a registry); forget; primary.")

    @app.callback()
    def listing(
        ctx: typer.Context,
        db: Annotated[Path | None, typer.Option(help="List what this registry holds.")] = None,
        key_file: KeyFile = None,
    ) -> None:
        """Without --db: the shipped rulesets. With --db: what the registry holds."""
        if ctx.invoked_subcommand is not None:
            return
        if db is None:
            from transforms.rules.ruleset import available_rulesets

            for rs in available_rulesets():
                print(f"{rs.label:<20} {rs.title}")
            return
        _print_held(db)

    @app.command()
    def forget(label: Annotated[str, typer.Argument(help="ID@VERSION to remove.")],
               db: RegistryFile, key_file: KeyFile = None) -> None:
        """Remove a ruleset's assessments and flags (never exams); recorded in runs."""
        summary = application.forget(db, label)
        out.print(f"{summary.ruleset}: {summary.message} (run {summary.run_id})")

    @app.command()
    def primary(label: Annotated[str, typer.Argument(help="ID@VERSION the registry holds.")],
                db: RegistryFile, key_file: KeyFile = None) -> None:
        """Make a ruleset the registry's primary one (what the report views show)."""
        application.set_primary(db, label)
        out.print(f"primary ruleset of {db}: {label}")

    return app


def _print_held(db: Path) -> None:
    out.print(section_table(_held_section(application.held_rulesets(db))))


def _held_section(held: pl.DataFrame) -> Section:
    """`dxa rulesets --db`: one row per ruleset the registry holds (no title: the table
    is the whole answer)."""
    rows = held.with_columns(pl.col("sha256").str.slice(0, 16).fill_null("(not recorded)"))
    return section_from_frame(rows, key="rulesets", title="", columns=[
        text("id"), text("version"), text("sha256"),
        counts("exams_assessed", "exams assessed"),
        Column("first_used_at", Kind.TIMESTAMP, "first used"),
        Column("last_used_at", Kind.TIMESTAMP, "last used"),
        Column("primary", Kind.BOOL)])


def reassess_command(
    db: RegistryFile,
    ruleset: Annotated[str, typer.Option(help="Ruleset id or path to a ruleset TOML.")],
    latest_only: Annotated[bool, typer.Option(help="Only each patient's latest exam.")] = False,
    into: Annotated[
        Path | None, typer.Option(help="Write into a copy of the registry (a what-if); the "
                                       "registry itself is left untouched.")] = None,
    batch_size: Annotated[int, typer.Option(help="Exams read per batch.", min=1)] = 200_000,
    lock_timeout: Annotated[float, typer.Option(help="Seconds to wait for a lock.")] = 30.0,
    key_file: KeyFile = None,
    data_path: DataPath = None,
) -> None:
    """Judge the exams already in the registry under a ruleset, without the files."""
    request = application.ReassessRequest(db, ruleset, latest_only=latest_only, into=into,
                                          batch_size=batch_size, lock_timeout_s=lock_timeout)
    with run_status(show=True) as on_progress:  # a bar of the exams judged, on a terminal
        summary = application.reassess(request, on_progress)
    where = into or db
    out.print(f"{summary.ruleset} into {where}: {summary.message} (run {summary.run_id})")


def compare_command(
    db: ReaderDb,
    ruleset_a: Annotated[str, typer.Argument(help="Ruleset ID or ID@VERSION (from).")],
    ruleset_b: Annotated[str, typer.Argument(help="Ruleset ID or ID@VERSION (to).")],
    as_of: Annotated[
        str | None, typer.Option(help="Latest exam on or before YYYY-MM-DD (default all).")
    ] = None,
    fmt: Annotated[CompareFormat, typer.Option(
        "--format", help="table, csv or json.", metavar=choices_metavar(CompareFormat))] = (
        CompareFormat.table),
    key_file: KeyFile = None,
) -> None:
    """Transition matrices of treatment and WHO category between two rulesets."""
    from pipelines.readers.compare import long_form, long_form_csv

    comparison = application.compare(db, ruleset_a, ruleset_b, as_of)
    if fmt is CompareFormat.csv:  # opened in spreadsheets: no cell read as a formula
        print(long_form_csv(comparison), end="")
    elif fmt is CompareFormat.json:
        print(json.dumps({"ruleset_a": comparison.ruleset_a,
                          "ruleset_b": comparison.ruleset_b,
                          "patients": comparison.patients,
                          "cells": long_form(comparison).to_dicts()}, indent=2))
    else:
        _print_matrices(comparison)


def _print_matrices(comparison) -> None:  # noqa: ANN001 - pipelines.readers.compare.Comparison
    from pipelines.readers.compare import comparison_sections

    out.print(f"{comparison.patients:,} patients whose latest exam both "
              f"{comparison.ruleset_a} (rows) and {comparison.ruleset_b} (columns) judged")
    for section in comparison_sections(comparison):
        out.print(section_table(section))
