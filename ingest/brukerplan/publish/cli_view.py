"""What `brukerplan publish` prints: progress while it runs, a table and a summary line at the end."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from brukerplan.publish.publisher import PublishError, publish
from brukerplan.publish.suppress import DEFAULT_AUDIT_CELLS
from brukerplan.settings import Settings


def run_publish_command(settings: Settings, console: Console, audit_cells: int | None = None) -> int:
    """Publish and report; returns the exit status (0 published, 1 refused or failed)."""
    with console.status("publishing …") as status:
        try:
            result = publish(
                settings,
                progress=lambda msg: status.update(f"publish: {msg} …"),
                audit_cells=DEFAULT_AUDIT_CELLS if audit_cells is None else audit_cells,
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
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stats.phase_seconds.items())
    console.print(
        f"row audit: {stats.row_pieces:,} rows checked exactly, {stats.row_audit_added:,} cells added; "
        + (
            f"wider audit: {stats.audited_cells:,} cell checks in {stats.audited_pieces:,} pieces of at most "
            f"{stats.audit_cells} cells over {stats.audit_passes} passes, {stats.audit_added:,} cells added, "
            f"{stats.unaudited_cells:,} withheld cells in groups too large to check"
            if stats.audit_cells > 0
            else "wider audit off (--audit-cells)"
        )
        + f" ({phases})"
    )
    if not stats.audit_complete:
        console.print(
            "[yellow]warning:[/yellow] the exact audit still found fixed cells after its last pass: every "
            "equation has two or more withheld cells, but a combination of equations may fix one; see "
            "docs/publishing.md"
        )
    console.print(
        f"published {len(result.tables)} tables, {sum(t.rows for t in result.tables):,} rows, "
        f"{result.withheld_cells:,} withheld cells in {result.seconds:.1f} s: {result.path} "
        f"(Parquet: {result.parquet_dir})"
    )
    return 0
