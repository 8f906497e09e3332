"""`brukerplan demo`: every stage that exists, in order, on the embedded default."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from brukerplan.dbt_runner import run_dbt
from brukerplan.settings import Settings


def run_demo(settings: Settings, console: Console) -> bool:
    started = time.perf_counter()
    steps = Table(title="brukerplan demo")
    steps.add_column("step")
    steps.add_column("result")
    steps.add_column("seconds", justify="right")
    steps.add_column("output")

    with console.status("dbt build …"):
        outcome = run_dbt(["build"], settings)
    result = "ok" if outcome.success else "FAILED: " + "; ".join(outcome.failures[:3])
    steps.add_row("dbt build", result, f"{outcome.seconds:.1f}", str(settings.warehouse))
    console.print(steps)
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")
    return outcome.success
