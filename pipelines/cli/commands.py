"""The `dxa` command: run the registry flow, report, and show the rule catalog.

Errors the user can act on (a locked registry, a bad ruleset, a missing path) are our
own errors (`schemas.errors.DxaError`); they are caught in one place (`DxaGroup`) and end
with a one-line reason on stderr and exit code 1, never a traceback. Each command's body
stays thin: parse options, call the work, print.
"""

from __future__ import annotations

import gc
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from pipelines.app import DEFAULT_CRON, DEFAULT_TIMEZONE, READ_LOCK_TIMEOUT_S, WORK_POOL
from pipelines.cli import examples
from pipelines.cli.choices import DateFormat, InputFormat, choices_metavar
from pipelines.cli.console import (
    EXIT_FAILED,
    err,
    fail,
    out,
    print_json,
    print_summary,
    run_status,
    warn,
)
from pipelines.cli.data_path_option import DataPath
from pipelines.cli.defaults import DB_ENVVAR, default_map, read_config
from pipelines.cli.group import DxaGroup
from pipelines.cli.key_option import KeyFile
from pipelines.cli.measures import measures_command
from pipelines.cli.options import ReaderDb
from pipelines.cli.patient import patient_command
from pipelines.cli.precision import precision_command
from pipelines.cli.rulesets import compare_command, make_rulesets_app, reassess_command
from pipelines.readers.reporting.formats import ReportFormat
from pipelines.readers.reporting.render_text import print_tables
from pipelines.runtime.env import configure_prefect_env
from pipelines.runtime.messages import safe_reason, write_details

#: `--db` of the commands that read the reporting copy (or the registry itself).
ReportDb = Annotated[Path, typer.Option(help="Reporting copy (or registry) DuckDB file.",
                                          envvar=DB_ENVVAR)]
REPORT_DB = Path("registry.report.duckdb")
#: The installed distribution whose version `dxa --version` prints (pyproject.toml's name).
DISTRIBUTION = "dxa-registry"


app = typer.Typer(
    cls=DxaGroup,
    help="DXA registry pipeline: ingest exports, validate, classify, decide, load to DuckDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    """`dxa --version`: the installed distribution's version (what `pip` and bug reports
    name), read from its metadata so that it never drifts from pyproject.toml."""
    if not wanted:
        return
    try:
        out.print(f"dxa {version(DISTRIBUTION)}")
    except PackageNotFoundError:
        fail(f"the {DISTRIBUTION} package is not installed (run ./scripts/bootstrap.sh)")
    raise typer.Exit()


@app.callback()
def dxa(
    ctx: typer.Context,
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Show the installed version and exit.")] = False,
) -> None:
    """Options of `dxa` itself, before the command; option defaults from `dxa.toml`."""
    ctx.default_map = {**default_map(read_config(Path.cwd())), **(ctx.default_map or {})}


@app.command(epilog=examples.RUN)
def run(
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders.")],
    db: Annotated[Path, typer.Option(help="Registry DuckDB file (created if missing).",
                                     envvar=DB_ENVVAR)],
    ruleset: Annotated[str, typer.Option(help="Ruleset id or path to a ruleset TOML.")] = (
        "core-2025"
    ),
    fmt: Annotated[
        InputFormat, typer.Option("--format", help="Input format; auto detects each input.",
                                  metavar=choices_metavar(InputFormat))
    ] = InputFormat.auto,
    lock_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for a registry locked by another process.")
    ] = 30.0,
    date_format: Annotated[
        DateFormat | None,
        typer.Option(help="Non-ISO dates in CSVs: DMY (DD/MM/YYYY) or MDY (MM/DD/YYYY).",
                     case_sensitive=False, metavar=choices_metavar(DateFormat)),
    ] = None,
    precision: Annotated[
        Path | None,
        typer.Option(help="Precision study file (TOML); default config/precision.toml."),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="Fan per-file work out to Dask: 'local' or a scheduler address."),
    ] = None,
    t_reference: Annotated[
        str | None,
        typer.Option(help="Recompute every T-score from BMD against this reference "
                          "(e.g. nhanes3); the source's T-scores are kept aside."),
    ] = None,
    move_failed: Annotated[
        Path | None,
        typer.Option(help="Move each input that failed as a whole into this folder once "
                          "the run has recorded it (never overwriting)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's log lines.")] = False,
    key_file: KeyFile = None,
    data_path: DataPath = None,
) -> None:
    """Run the registry flow on exports into the registry (a DuckDB file, or a DuckLake)."""
    configure_prefect_env(verbose=verbose)
    from pipelines import app as application

    request = application.RunRequest(
        paths, db, ruleset=ruleset, fmt=str(fmt), lock_timeout_s=lock_timeout,
        date_format=str(date_format) if date_format else None, precision=precision,
        t_reference=t_reference, dask=dask, verbose=verbose, move_failed=move_failed)
    with run_status(show=not as_json) as on_progress:
        summary = application.run(request, on_progress)
    (print_json if as_json else print_summary)(summary)
    if not summary.files:
        warn(application.no_exports_message(paths))
    raise typer.Exit(application.run_exit_code(summary))


@app.command(epilog=examples.REPORT)
def report(
    db: ReportDb = REPORT_DB,
    as_of: Annotated[
        str | None, typer.Option(help="Date for overdue follow-up, YYYY-MM-DD (default today).")
    ] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="Output format (html needs --output).",
                                   metavar=choices_metavar(ReportFormat))
    ] = ReportFormat.TABLE,
    output: Annotated[
        Path | None, typer.Option(help="Write the report to this file instead of the screen.")
    ] = None,
    lock_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds to wait while a run holds the registry (default 10)."),
    ] = None,
    key_file: KeyFile = None,
) -> None:
    """A summary of the latest run and of the registry, for humans or machines."""
    from pipelines import app as application

    if fmt is ReportFormat.HTML and output is None:
        fail("--format html writes a page: give it a file with --output FILE")
    if fmt is ReportFormat.TABLE and output is None:  # the screen: fit the terminal
        print_tables(application.report(db, as_of, lock_timeout), out)
        return
    written = application.report_text(db, as_of, fmt, lock_timeout)
    if output is None:
        print(written, end="")
    else:
        from pipelines.runtime.export_files import write_private_text

        write_private_text(output, written)  # 0600, whole or not at all
        err.print(f"wrote {output}", highlight=False)


@app.command(epilog=examples.EXPORT)
def export(
    kind: Annotated[str, typer.Argument(
        help="treatment-candidates, overdue, workup, vfa, significant-loss, "
             "risk-assessment, quarantine, or research.")],
    output: Annotated[Path, typer.Option(
        help="FILE.csv, FILE.xlsx or FILE.parquet (research: FILE.parquet, one per table).")],
    db: ReportDb = REPORT_DB,
    as_of: Annotated[
        str | None, typer.Option(help="Date of the list, YYYY-MM-DD (default today).")
    ] = None,
    ruleset: Annotated[
        str | None, typer.Option(help="Ruleset ID or ID@VERSION (default: the latest run's).")
    ] = None,
    pseudonym_key: Annotated[
        Path | None, typer.Option(help="research: the secret pseudonym key file.")
    ] = None,
    lock_timeout: Annotated[
        float, typer.Option(help="Seconds to wait while a run holds the registry.")
    ] = READ_LOCK_TIMEOUT_S,
    key_file: KeyFile = None,
) -> None:
    """Export a worklist with patient ids (authorised staff only), or a research extract."""
    from pipelines import app as application

    if kind == "research":  # a WorklistError (DxaError) becomes one line and exit 1
        counts = application.export_research(db, pseudonym_key, output, as_of=as_of,
                                             ruleset=ruleset, lock_timeout_s=lock_timeout)
        summary = ", ".join(f"{table} {n}" for table, n in counts.items())
        out.print(f"wrote the pseudonymised extract beside {output} ({summary} rows)",
                  highlight=False)
    else:
        n = application.export_worklist(kind, db, output, as_of=as_of, ruleset=ruleset,
                                        lock_timeout_s=lock_timeout)
        out.print(f"wrote {n} rows to {output} (patient identifiers: for authorised "
                  "staff only)", highlight=False)


@app.command(epilog=examples.RULES)
def rules(
    markdown: Annotated[bool, typer.Option(help="Write markdown instead of text.")] = False,
    ruleset: Annotated[
        str | None,
        typer.Option(help="Show only this ruleset's values (default: every shipped ruleset)."),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
    diff: Annotated[
        str | None, typer.Option(help="With --ruleset: list its differences from this one.")
    ] = None,
) -> None:
    """Print the rule catalog: every rule, its wording, source and each ruleset's values."""
    from pipelines import app as application

    if diff is not None:
        if ruleset is None:
            fail("--diff compares a ruleset file: give it with --ruleset PATH")
        print(application.ruleset_diff(ruleset, diff), end="")
        return
    text = application.rules_catalog(markdown, ruleset)
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        print(text)


app.add_typer(make_rulesets_app(), name="rulesets")
app.command("reassess", epilog=examples.REASSESS)(reassess_command)
app.command("compare", epilog=examples.COMPARE)(compare_command)
app.command("precision")(precision_command)
app.command("patient")(patient_command)
app.command("measures", epilog=examples.MEASURES)(measures_command)


@app.command()
def serve(
    paths: Annotated[list[Path], typer.Argument(help="Export folders to ingest each night.")],
    db: Annotated[Path, typer.Option(help="Registry DuckDB file.", envvar=DB_ENVVAR)],
    cron: Annotated[str, typer.Option(help="Cron schedule.")] = DEFAULT_CRON,
    timezone: Annotated[
        str, typer.Option(help="IANA time zone of the cron schedule, e.g. Europe/Berlin.")
    ] = DEFAULT_TIMEZONE,
    ruleset: Annotated[str, typer.Option(help="Ruleset id or path.")] = "core-2025",
) -> None:
    """Serve the flow as deployment dxa-serve on a cron schedule (needs a Prefect server)."""
    from pipelines import app as application

    application.serve(paths, db, cron=cron, timezone=timezone, ruleset=ruleset)


@app.command("work-pool")
def work_pool(
    name: Annotated[str, typer.Option(help="Work pool name (prefect.yaml uses dxa).")] = (
        WORK_POOL
    ),
) -> None:
    """Create the process work pool that `prefect deploy --all` needs (once per server)."""
    from pipelines import app as application

    created, url = application.work_pool(name)
    out.print(Text(f"work pool {name} {'created' if created else 'already exists'} on {url}"))


@app.command(epilog=examples.PREVALENCE)
def prevalence(
    db: ReaderDb,
    min_age: Annotated[float, typer.Option(help="Youngest age counted.")] = 50.0,
    sites: Annotated[
        str, typer.Option(help="Sites whose lowest T-score decides (each required).")
    ] = "femoral_neck,spine",
    by: Annotated[str, typer.Option(help="Groups: sex, age_group or both.")] = "",
    standard: Annotated[
        str, typer.Option(help="Age standard: us2000, esp2013 or none.")
    ] = "us2000",
    weights: Annotated[str, typer.Option(help="survey (design weights) or none.")] = "survey",
    ruleset: Annotated[
        str, typer.Option(help="Ruleset whose WHO T-score cut-offs are used.")
    ] = "core-2025",
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    ci: Annotated[
        str, typer.Option(help="95 % CI: korn-graubard (as NCHS publishes) or wald.")
    ] = "korn-graubard",
    per: Annotated[
        str, typer.Option(help="patient (each patient's latest exam, once) or exam.")
    ] = "patient",
    period: Annotated[
        str | None, typer.Option(help="Exams dated 2025, 2025Q3 or 2025-01-01:2025-12-31.")
    ] = None,
    key_file: KeyFile = None,
) -> None:
    """Prevalence of osteoporosis and low bone mass with 95 % CIs (survey or registry)."""
    from pipelines.cli.prevalence import run_prevalence
    from pipelines.readers.prevalence_options import PrevalenceOptions

    options = PrevalenceOptions(db, min_age=min_age, sites=sites, by=by, standard=standard,
                                weights=weights, ruleset=ruleset, ci=ci, per=per,
                                period=period)
    run_prevalence(options, fmt, out)


def main() -> None:
    """Console entry point: an unexpected error is one line on screen, details in a file."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug must not dump a traceback on screen
        err.print(Text.assemble(("dxa: internal error:", "bold red"),
                                f" {safe_reason(exc)} (details in {write_details(exc)})"))
        raise SystemExit(EXIT_FAILED) from None
    finally:
        # The interpreter's last garbage collection walks every object Prefect, pydantic
        # and polars made (about 0.5 s of each command's exit); the process ends anyway.
        # Exit handlers, flushes and closes still run as usual.
        gc.freeze()


if __name__ == "__main__":
    main()
