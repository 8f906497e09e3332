"""What `brukerplan publish` prints: progress while it runs, a table and a summary line at the end."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from brukerplan.publish.intervals import DEFAULT_LP_BUDGET, MAX_COMPONENT
from brukerplan.publish.publisher import PublishError, publish
from brukerplan.settings import Settings


def run_publish_command(
    settings: Settings,
    console: Console,
    lp_budget: int | None = None,
    require_current: bool = False,
    allow_failed_rebuild: bool = False,
    reuse: bool = True,
) -> int:
    """Publish and report; returns the exit status (0 published, 1 refused or failed)."""
    with console.status("publishing …") as status:
        try:
            result = publish(
                settings,
                progress=lambda msg: status.update(f"publish: {msg} …"),
                lp_budget=DEFAULT_LP_BUDGET if lp_budget is None else lp_budget,
                require_current=require_current,
                allow_failed_rebuild=allow_failed_rebuild,
                reuse=reuse,
            )
        except PublishError as exc:
            console.print(f"[red]publish refused:[/red] {exc}")
            console.print(f"published file unchanged: {settings.published}")
            return 1
    table = Table(title=f"published (threshold {result.threshold})")
    table.add_column("table")
    table.add_column("kind")
    table.add_column("rows", justify="right")
    table.add_column("withheld cells", justify="right")
    for summary in result.tables:
        table.add_row(summary.name, summary.kind, f"{summary.rows:,}", f"{summary.withheld_cells:,}")
    console.print(table)
    stats = result.stats
    console.print(
        f"suppression: {stats.cells:,} count cells, {stats.primary:,} withheld as small, "
        f"{stats.complementary:,} more to protect them, {stats.derived:,} rates/shares/means with them "
        f"({stats.equations:,} equations, {stats.seconds:.1f} s)"
    )
    parts = result.parts
    console.print(
        f"solved apart by mapping year: {parts.parts} parts, {parts.reused} unchanged since the last publication "
        f"(taken from it), {parts.solved} solved"
        + (f" on {parts.workers} cores" if parts.workers > 1 else "")
        + (
            f"; {result.years_unchanged} of {result.years} mapping years with unchanged input, their equations not "
            "built"
            if result.years
            else ""
        )
    )
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stats.phase_seconds.items())
    exact, lp = stats.exact, stats.intervals
    console.print(
        f"exact audit (of the years solved or taken): {exact.unknowns:,} withheld cells in "
        f"{exact.components:,} components (largest "
        f"{stats.largest_component:,}) checked in full, {stats.audit_passes} passes, {stats.audit_added:,} cells "
        f"added, none recoverable at the end; protection intervals by linear programming: {lp.checked_cells:,} "
        f"small cells in {lp.checked_components:,} of {lp.components:,} components ({lp.programs:,} programs; "
        f"{lp.too_large:,} components over {MAX_COMPONENT:,} cells by bound propagation only), "
        f"{stats.interval_added_for:,} protected further; bound propagation over all cells: "
        f"{stats.propagation_added_for:,} small cells pinned inside 1..{result.threshold - 1} protected further "
        f"(seconds of work, added up over the processes: {phases})"
    )
    if not stats.audit_complete:
        console.print(
            "[red]error:[/red] the exact audit still found recoverable cells after its last pass; see "
            "docs/publishing.md"
        )
    console.print(
        f"published {len(result.tables)} tables, {sum(t.rows for t in result.tables):,} rows, "
        f"{result.withheld_cells:,} withheld cells in {result.seconds:.1f} s: {result.path} "
        f"(Parquet: {result.parquet_dir})"
    )
    if result.build is not None:
        console.print(f"from the warehouse's last green build: {result.build.describe()}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    return 0
