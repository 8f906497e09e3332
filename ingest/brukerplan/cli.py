"""The `brukerplan` command. Each subcommand is a thin shell over one stage module; it ends with a short
summary and exits 0 on success, 1 when input was quarantined or a check failed, 2 for usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from brukerplan.settings import Settings, SettingsError

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


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings.load(**overrides)
    except SettingsError as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def build(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    select: Annotated[str | None, typer.Option("--select", "-s", help="dbt node selection, e.g. 'staging+'")] = None,
) -> None:
    """Run `dbt build` (seeds, models, tests) on the landing zone into the warehouse file."""
    from brukerplan.dbt_runner import run_dbt

    settings = load_settings(landing=landing, warehouse=warehouse)
    args = ["build"] + (["--select", select] if select else [])
    with console.status("dbt build …"):
        outcome = run_dbt(args, settings, quiet=False)
    summary = ", ".join(f"{k}={v}" for k, v in sorted(outcome.counts.items()))
    for failure in outcome.failures:
        console.print(f"[red]failed:[/red] {failure}")
    state = "[green]ok[/green]" if outcome.success else "[red]FAILED[/red]"
    console.print(f"dbt build {state} in {outcome.seconds:.1f} s ({summary}); warehouse: {settings.warehouse}")
    raise typer.Exit(0 if outcome.success else 1)


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

    settings = load_settings(landing=landing, reject_threshold=reject_threshold)
    raise typer.Exit(run_ingest_command(paths, settings, console, lock_timeout))


@app.command()
def demo(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    published: PublishedOpt = None,
    reports: ReportsOpt = None,
    scale: Annotated[float, typer.Option("--scale", help="Synthetic volume; 1.0 = national")] = 1.0,
) -> None:
    """Run every stage that exists end to end on synthetic data (synth, ingest, build, publish, report) and say
    where the outputs are. Synthetic extracts go to the folder beside the landing zone (data/synth)."""
    from brukerplan.demo import run_demo

    settings = load_settings(landing=landing, warehouse=warehouse, published=published, reports=reports)
    available = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    ok = run_demo(settings, console, available, scale=scale)
    raise typer.Exit(0 if ok else 1)


def main() -> None:  # pragma: no cover - entry point convenience
    app()
