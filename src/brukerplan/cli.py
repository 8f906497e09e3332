"""The `brukerplan` command. Each subcommand is a thin shell over one stage module; it ends with a short
summary and exits 0 on success, 1 when input was quarantined or a check failed, 2 for usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from brukerplan.settings import NUMBERS, Settings, SettingsError
from brukerplan.synth.config import ALL_YEARS, DEFAULT_SEED

app = typer.Typer(
    help="BrukerPlan warehouse: land extracts, build the warehouse with dbt, publish aggregates for BI.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=False)

LandingOpt = Annotated[
    Path | None, typer.Option("--landing", help="Landing zone (env BRUKERPLAN_LANDING, default data/landing)")
]
WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        help="Warehouse DuckDB file built by dbt (env BRUKERPLAN_WAREHOUSE, default warehouse/brukerplan.duckdb)",
    ),
]
PublishedOpt = Annotated[
    Path | None,
    typer.Option(
        "--published",
        help="Published DuckDB file for BI (env BRUKERPLAN_PUBLISHED, default published/brukerplan.duckdb)",
    ),
]
ReportsOpt = Annotated[
    Path | None, typer.Option("--reports", help="Reports folder (env BRUKERPLAN_REPORTS, default reports)")
]
RejectOpt = Annotated[
    float | None,
    typer.Option(
        "--reject-threshold",
        help="Quarantine a file when strictly more than this share of rows is rejected "
        "(env BRUKERPLAN_REJECT_THRESHOLD, default 0.10)",
    ),
]
SuppressionOpt = Annotated[
    int | None,
    typer.Option(
        "--suppression-threshold",
        help="Withhold published counts from 1 to this minus one (env BRUKERPLAN_SUPPRESSION_THRESHOLD, default 5)",
    ),
]


def load_settings(uses: tuple[str, ...] = (), **overrides: object) -> Settings:
    """The settings a command needs; of the numeric ones only those in `uses` are checked."""
    try:
        return Settings.load(uses=uses, **overrides)
    except SettingsError as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def build(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    select: Annotated[
        str | None,
        typer.Option(
            "--select", "-s", help="dbt node selection, e.g. 'staging+' (built on a copy of the current warehouse)"
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Rebuild every mapping year from an empty file, even when an incremental build would do"
        ),
    ] = False,
) -> None:
    """Run `dbt build` (seeds, models, tests) on the landing zone into a new warehouse file beside the current
    one, and swap it in only when every model and test is green. Readers of the current file are never blocked
    (they keep the old version until they reconnect); a failed build leaves the current warehouse untouched and
    deletes the new file. When the current warehouse was built by the same project and settings, only the mapping
    years of new submissions are recomputed (incremental, same tables as a full build; every test still runs).
    Exit 1 when the build failed or was not swapped in."""
    from brukerplan.warehouse.build import BuildBlocked, build_warehouse

    settings = load_settings(landing=landing, warehouse=warehouse)
    with console.status("dbt build …") as status:
        try:
            result = build_warehouse(settings, select, say=lambda msg: status.update(msg), quiet=False, full=full)
        except BuildBlocked as exc:
            console.print(f"[red]build refused:[/red] {exc}")
            raise typer.Exit(1) from exc
    outcome = result.outcome
    summary = ", ".join(f"{k}={v}" for k, v in sorted(outcome.counts.items()))
    for failure in outcome.failures:
        console.print(f"[red]failed:[/red] {failure}")
    state = "[green]ok[/green]" if outcome.success else "[red]FAILED[/red]"
    what = f"; {result.plan.describe()}" if result.plan is not None else ""
    console.print(f"dbt build {state} in {outcome.seconds:.1f} s ({summary}{what})")
    if result.swapped:
        console.print(f"warehouse replaced: {result.warehouse} (open read-only connections keep the old version)")
        raise typer.Exit(0)
    previous = (
        f"it still holds {result.previous.describe()}"
        if result.previous
        else ("its build record cannot be read" if result.warehouse.exists() else "there is none yet")
    )
    console.print(
        f"[red]not swapped in[/red] ({result.reason}); the new file was deleted. The warehouse "
        f"{result.warehouse} is unchanged: {previous}"
    )
    raise typer.Exit(1)


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Extract files and/or folders (searched recursively for *.xlsx and *.csv, any case)"),
    ],
    landing: LandingOpt = None,
    reject_threshold: RejectOpt = None,
    lock_timeout: Annotated[
        float,
        typer.Option("--lock-timeout", help="Seconds to wait for another ingest run to release the landing zone"),
    ] = 600.0,
) -> None:
    """Land extract files in the landing zone as Parquet (rejects, quarantine, validation; the same bytes again
    land nothing). Exit 0 when every file landed or was already there, 1 when any file was quarantined."""
    from brukerplan.ingest.cli_view import run_ingest_command

    settings = load_settings(("reject_threshold",), landing=landing, reject_threshold=reject_threshold)
    raise typer.Exit(run_ingest_command(paths, settings, console, lock_timeout))


@app.command()
def report(
    geo: Annotated[
        list[str] | None,
        typer.Option(
            "--geo",
            help="Geography code: 4-digit municipality, 2-digit county or NO; repeatable "
            "[default: every municipality that has mapped, every county, the country]",
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Mapping year [default: the latest in the published file]")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the labels: nb (bokmål) or en")] = "nb",
    out: Annotated[Path | None, typer.Option("--out", help="Output folder [default: the reports setting]")] = None,
    published: PublishedOpt = None,
    reports: ReportsOpt = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print each page to PDF with Chromium")] = True,
) -> None:
    """Write an HTML page per geography (inline SVG charts, opens offline), an index and a PDF of each page,
    from the published file only. Without Chromium the PDFs are skipped with a message (exit 0)."""
    from brukerplan.report import ReportUsageError, build_reports
    from brukerplan.report.published import PublishedError

    settings = load_settings(("suppression_threshold",), published=published, reports=reports)
    try:
        result = build_reports(settings, console, codes=geo, year=year, lang=lang, out=out, pdf=pdf)
    except ReportUsageError as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except PublishedError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    pdfs = f"{result.pdfs} PDFs in {result.pdf_seconds:.1f} s (printed alongside); " if result.pdfs else ""
    console.print(
        f"reports {result.year} ({result.lang}): {result.pages} HTML pages in {result.html_seconds:.1f} s, "
        f"{pdfs}total {result.seconds:.1f} s; index: {result.out / 'index.html'}"
    )
    if result.pdf_skipped:
        console.print(f"[yellow]PDFs skipped:[/yellow] {result.pdf_skipped}")
    for error in result.pdf_errors[:10]:
        console.print(f"[red]PDF failed:[/red] {error}")
    for fallback in result.pdf_fallbacks[:10]:
        console.print(f"[yellow]printed page by page (decisions R13):[/yellow] {fallback}")
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def publish(
    warehouse: WarehouseOpt = None,
    published: PublishedOpt = None,
    landing: LandingOpt = None,
    suppression_threshold: SuppressionOpt = None,
    lp_budget: Annotated[
        int | None,
        typer.Option(
            "--lp-budget",
            envvar="BRUKERPLAN_LP_BUDGET",
            help="Linear programs per pass of the protection-interval audit (every component up to 2,000 withheld "
            "cells, smallest first, several per program, until the budget is spent; 0 = off). The exact audit "
            "always runs in full (env BRUKERPLAN_LP_BUDGET, default 20000; see docs/publishing.md)",
        ),
    ] = None,
    require_current: Annotated[
        bool,
        typer.Option(
            "--require-current",
            help="Refuse (exit 1) when the landing zone has submissions the warehouse's last build did not read "
            "(without it: publish and warn, naming how many)",
        ),
    ] = False,
    allow_failed_rebuild: Annotated[
        bool,
        typer.Option(
            "--allow-failed-rebuild",
            help="Publish the warehouse's previous green build although the last `brukerplan build` failed "
            "(without it: refuse, exit 1)",
        ),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Solve the suppression of every mapping year again (without it: a year whose counts did not "
            "change since the last publication takes that publication's withheld cells, which a fresh solve would "
            "give as well)",
        ),
    ] = False,
) -> None:
    """Publish the marts and dimensions of a green build for BI: counts from 1 to threshold-1 withheld (and
    whatever would reveal them), written atomically to a DuckDB file readable by DuckDB 1.4+, with Parquet
    copies in <published stem>_parquet/ beside it. The gate is the build record dbt wrote into the warehouse
    (meta.build_record): exit 1 when the last dbt invocation on it was not a finished, green `build`, when the
    warehouse has no marts, when the last `brukerplan build` failed (unless --allow-failed-rebuild: the warehouse
    then still holds the previous green build), or with --require-current when the landing zone has newer
    submissions (the previous published file is then left as it was)."""
    from brukerplan.publish.cli_view import run_publish_command

    settings = load_settings(
        ("suppression_threshold",),
        warehouse=warehouse,
        published=published,
        landing=landing,
        suppression_threshold=suppression_threshold,
    )
    if lp_budget is not None and lp_budget < 0:
        console.print("[red]usage error:[/red] --lp-budget must be 0 or more")
        raise typer.Exit(2)
    raise typer.Exit(
        run_publish_command(
            settings,
            console,
            lp_budget=lp_budget,
            require_current=require_current,
            allow_failed_rebuild=allow_failed_rebuild,
            reuse=not fresh,
        )
    )


@app.command("return")
def return_packages(
    municipality: Annotated[
        list[str] | None,
        typer.Option(
            "--municipality",
            help="4-digit municipality code of the target structure; repeatable (default: every municipality "
            "that mapped in the year)",
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Mapping year (default: the latest in the warehouse)")
    ] = None,
    returns: Annotated[
        Path | None, typer.Option("--returns", help="Output folder (env BRUKERPLAN_RETURNS, default returns)")
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            help="Keys file, CSV municipality_code,secret, mode 0600 (env BRUKERPLAN_RETURN_KEYS; no default)",
        ),
    ] = None,
    unencrypted: Annotated[
        bool, typer.Option("--unencrypted", help="Write plain files (the summary says so in red)")
    ] = False,
    person: Annotated[
        str | None,
        typer.Option(
            "--person",
            help="Pseudonym: write the one-user sheet (PDF, encrypted) of this person instead, with exactly one "
            "--municipality; written to <returns>/<municipality>/one-user/<pseudonym>/",
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Give each municipality its own registrations back (restricted): per municipality a workbook
    (Registreringer, Brukere over tid, Avviste rader, Om filen) encrypted with its own secret and a
    manifest.json, written atomically to <returns>/<municipality>/<year>/. Exit 1 when a municipality has no
    secret (it gets no package), 2 for an unknown municipality or year or a bad keys file (nothing written)."""
    from brukerplan.returns.command import ReturnRequest, run_return_command

    settings = load_settings(warehouse=warehouse, returns=returns, return_keys=keys)
    request = ReturnRequest(municipalities=list(municipality or []), year=year, unencrypted=unencrypted, person=person)
    raise typer.Exit(run_return_command(settings, request, console))


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Output folder: writes OUT/extracts, OUT/truth (and OUT/bad)")],
    years: Annotated[str, typer.Option("--years", help="Mapping years, e.g. 2013-2024 or 2019")] = ALL_YEARS,
    scale: Annotated[float, typer.Option("--scale", help="Volume relative to the national figures (1.0)")] = 1.0,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; same seed and arguments give the same files")
    ] = DEFAULT_SEED,
    bad_inputs: Annotated[
        bool, typer.Option("--bad-inputs", help="Also write OUT/bad: one labelled malformed file per rule")
    ] = False,
) -> None:
    """Write synthetic BrukerPlan extract files with an exact ground truth (docs/truth.md)."""
    from rich.table import Table

    from brukerplan.synth.config import SynthConfig, parse_years
    from brukerplan.synth.run import generate

    try:
        first, last = parse_years(years)
    except ValueError as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not 0 < scale <= 10:
        console.print(f"[red]usage error:[/red] --scale must be above 0 and at most 10, got {scale}")
        raise typer.Exit(2)
    config = SynthConfig(out=out, first_year=first, last_year=last, scale=scale, seed=seed, bad_inputs=bad_inputs)
    result = generate(config, console)
    table = Table(title=f"brukerplan synth → {out}")
    for column in ("layout", "format", "files", "rows"):
        table.add_column(column, justify="right" if column in ("files", "rows") else "left")
    for layout, fmt, files, rows in result.summary():
        table.add_row(layout, fmt, str(files), f"{rows:,}")
    console.print(table)
    bad = f", {result.bad_files} bad-input files in {out / 'bad'}" if bad_inputs else ""
    console.print(
        f"{len(result.files)} files, {result.rows:,} rows, {result.persons:,} person-years "
        f"(truth in {out / 'truth'}){bad}; finished in {result.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in result.phases.items())})"
    )


@app.command()
def demo(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    published: PublishedOpt = None,
    reports: ReportsOpt = None,
    returns: Annotated[
        Path | None, typer.Option("--returns", help="Return packages folder (env BRUKERPLAN_RETURNS, default returns)")
    ] = None,
    scale: Annotated[float, typer.Option("--scale", help="Synthetic volume; 1.0 = national")] = 1.0,
    years: Annotated[
        str, typer.Option("--years", help="Mapping years to generate, e.g. 2013-2024 (all) or 2016-2024 (quicker)")
    ] = ALL_YEARS,
) -> None:
    """Run every stage end to end on synthetic data (synth, ingest, build, publish, report, return) and say
    where the outputs are. Synthetic extracts go to the folder beside the landing zone (data/synth), with a
    throwaway keys file for the return packages (data/synth/return_keys.csv, 0600)."""
    from brukerplan.demo import run_demo
    from brukerplan.synth.config import parse_years

    settings = load_settings(
        NUMBERS, landing=landing, warehouse=warehouse, published=published, reports=reports, returns=returns
    )
    try:
        parse_years(years)
    except ValueError as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        raise typer.Exit(2) from exc
    ok = run_demo(settings, console, scale=scale, years=years)
    raise typer.Exit(0 if ok else 1)


@app.command()
def bench(
    scales: Annotated[str, typer.Option("--scales", help="Comma-separated synthetic scales to measure")] = "1,5",
    years: Annotated[str, typer.Option("--years", help="Mapping years to generate, e.g. 2013-2024")] = ALL_YEARS,
    reports: ReportsOpt = None,
    work: Annotated[
        Path | None, typer.Option("--work", help="Scratch folder for the generated data (default data/bench)")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the generated data after measuring")] = False,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Include the reports' PDFs in the report step")] = True,
) -> None:
    """Measure every step (synth, ingest csv/xlsx, dbt build, publish, report, an incremental cycle) per scale:
    wall and CPU time, peak memory, rows; writes <reports>/bench/<timestamp>.json and .md and prints the table."""
    from brukerplan.bench.runner import run_bench

    settings = load_settings(reports=reports)
    try:
        scale_list = [float(s) for s in scales.split(",") if s.strip()]
    except ValueError as exc:
        console.print(f"[red]usage error:[/red] --scales must be numbers separated by commas, got {scales!r}")
        raise typer.Exit(2) from exc
    if not scale_list or any(s <= 0 for s in scale_list):
        console.print("[red]usage error:[/red] --scales needs at least one positive number")
        raise typer.Exit(2)
    work_dir = (work or settings.project_dir / "data" / "bench").resolve()
    result, table, measures = run_bench(scale_list, years, settings.reports / "bench", work_dir, keep, pdf=pdf)
    console.print(table, markup=False)
    failed = [m.step for m in measures if m.exit_code != 0]
    if failed:
        console.print(f"[red]steps failed:[/red] {', '.join(failed)}")
    console.print(f"bench results: {result} (and {result.with_suffix('.md').name})")
    raise typer.Exit(1 if failed else 0)
