"""What `brukerplan ingest` shows: a progress bar while it works, then a table per file and a summary line."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from brukerplan.ingest.landing import LockTimeout
from brukerplan.ingest.pipeline import FileResult, Ingestor, RunResult, UsageError, collect
from brukerplan.settings import Settings

STATUS_STYLE = {
    "landed": "green",
    "already landed": "cyan",
    "already quarantined": "yellow",
    "quarantined": "red",
}


def run_ingest_command(paths: list[Path], settings: Settings, console: Console, lock_timeout: float) -> int:
    """Run one ingest; return the exit status (0 ok, 1 quarantine, 2 usage error)."""
    try:
        files = collect(paths)
    except UsageError as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        return 2
    if not files:
        console.print(f"[red]usage error:[/red] no *.xlsx or *.csv files under {', '.join(map(str, paths))}")
        return 2
    ingestor = Ingestor(settings)
    with Progress(
        TextColumn("[bold]ingest[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("waiting for the landing zone lock", total=len(files))

        def on_file(path: Path, done: FileResult | None) -> None:
            if done is None:
                progress.update(task, description=path.name)
            else:
                progress.advance(task)

        try:
            result = ingestor.run(files, lock_timeout, on_wait=lambda msg: progress.console.print(msg), on_file=on_file)
        except LockTimeout as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 1
    show(result, settings, console)
    return 1 if result.quarantined else 0


def show(result: RunResult, settings: Settings, console: Console) -> None:
    if result.cleaned:
        console.print(
            f"cleaned up {len(result.cleaned)} leftover(s) of an interrupted run: {', '.join(result.cleaned)}"
        )
    table = Table(title=f"ingest into {settings.landing}", show_lines=False)
    for column, justify in (
        ("file", "left"),
        ("layout", "left"),
        ("format", "left"),
        ("read", "right"),
        ("landed", "right"),
        ("rejected", "right"),
        ("status", "left"),
        ("rows/s", "right"),
    ):
        table.add_column(column, justify=justify, min_width=len(column), overflow="fold")
    for f in result.files:  # Text cells, not markup: a run may list a thousand files, and markup is parsed per cell
        status = Text().append(f.status, style=STATUS_STYLE[f.status])
        if f.rule_id:
            status.append(f" {f.rule_id}")
        table.add_row(
            Text(f.name),
            Text(f.layout or ""),
            Text(f.fmt or ""),
            Text(f"{f.rows_read:,}"),
            Text(f"{f.rows_landed:,}"),
            Text(f"{f.rows_rejected:,}"),
            status,
            Text(f"{f.rows_per_second:,.0f}" if f.rows_read else ""),
        )
    console.print(table)
    for f in result.files:
        if f.status == "quarantined":
            console.print(f"[red]quarantined {f.rule_id}[/red] {f.message}")
        elif f.status.startswith("already"):
            console.print(f"[dim]{f.status}: {f.name}: {f.message}[/dim]")
    quarantine = settings.landing / "quarantine"
    if result.quarantined:
        console.print(f"quarantined files and their reports (report.md, report.json) are in {quarantine}")
    if result.data_docs is not None:
        console.print(
            f"validation results ({result.data_docs_pages} great-expectations Data Docs page(s), restricted): "
            f"{result.data_docs}",
            soft_wrap=True,  # the path stays whole, to be copied
        )
    counts: dict[str, int] = {}
    for f in result.files:
        counts[f.status] = counts.get(f.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    landed_rows = sum(f.rows_landed for f in result.files)
    rejected_rows = sum(f.rows_rejected for f in result.files if f.status == "landed")
    rate = result.rows_read / result.seconds if result.seconds else 0.0
    console.print(
        f"{len(result.files)} file(s): {summary}; {landed_rows:,} rows landed, {rejected_rows:,} rejected; "
        f"{result.rows_read:,} rows read in {result.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
