"""`brukerplan demo`: every stage in order, on the embedded default (synthetic data, local
Parquet landing zone, DuckDB warehouse). Each stage runs as its own `brukerplan` subprocess through the public
command line, so the demo exercises exactly what a user runs, and one stage's memory never inflates the next."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from brukerplan.codes import REFERENCE_DIR
from brukerplan.returns.keys import write_throwaway_keys
from brukerplan.settings import Settings
from brukerplan.synth.config import ALL_YEARS


@dataclass(frozen=True)
class Step:
    name: str
    command: list[str]
    output: str
    prepare: Callable[[], object] | None = None  # run in the demo's process just before the command


def demo_keys(path: Path) -> Callable[[], Path]:
    """Throwaway return keys for every municipality of the 2024 structure (the synthetic data's), 0600."""

    def write() -> Path:
        with open(REFERENCE_DIR / "municipality_map_2024.csv", encoding="utf-8", newline="") as handle:
            codes = [row["code_2024"] for row in csv.DictReader(handle)]
        return write_throwaway_keys(path, codes)

    return write


@dataclass(frozen=True)
class StepResult:
    step: Step
    returncode: int
    seconds: float


def plan_steps(settings: Settings, synth_dir: Path, scale: float, years: str = ALL_YEARS) -> list[Step]:
    """The demo's steps: (command, arguments, where its output goes)."""
    landing, warehouse, published, reports, returns = (
        str(settings.landing),
        str(settings.warehouse),
        str(settings.published),
        str(settings.reports),
        str(settings.returns),
    )
    keys = synth_dir / "return_keys.csv"
    return [
        Step(
            "synth",
            ["synth", "--out", str(synth_dir), "--scale", str(scale), "--years", years],
            str(synth_dir / "extracts"),
        ),
        Step("ingest", ["ingest", str(synth_dir / "extracts"), "--landing", landing], landing),
        Step("build", ["build", "--landing", landing, "--warehouse", warehouse], warehouse),
        Step(
            "publish", ["publish", "--landing", landing, "--warehouse", warehouse, "--published", published], published
        ),
        Step("report", ["report", "--published", published, "--out", reports], str(settings.reports / "index.html")),
        Step(
            "return",
            ["return", "--warehouse", warehouse, "--returns", returns, "--keys", str(keys)],
            f"{returns} (throwaway keys: {keys})",
            prepare=demo_keys(keys),
        ),
    ]


def run_demo(settings: Settings, console: Console, scale: float = 1.0, years: str = ALL_YEARS) -> bool:
    synth_dir = settings.landing.parent / "synth"
    steps = plan_steps(settings, synth_dir, scale, years)
    env = {**os.environ, **settings.as_env()}
    results: list[StepResult] = []
    started = time.perf_counter()
    for step in steps:
        console.rule(f"[bold]{step.name}")
        t0 = time.perf_counter()
        if step.prepare is not None:
            step.prepare()
        proc = subprocess.run([sys.executable, "-m", "brukerplan", *step.command], env=env, check=False)
        results.append(StepResult(step, proc.returncode, time.perf_counter() - t0))
        if proc.returncode != 0:
            break
    table = Table(title="brukerplan demo")
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for result in results:
        state = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        table.add_row(result.step.name, state, f"{result.seconds:.1f}")
    console.print(table)
    ok = len(results) == len(steps) and all(r.returncode == 0 for r in results)
    console.print("Outputs:")
    for result in results:
        console.print(f"  {result.step.name:<8} {result.step.output}")
    verdict = "[green]finished[/green]" if ok else "[red]stopped at a failed step[/red]"
    console.print(f"demo {verdict} in {time.perf_counter() - started:.1f} s")
    return ok
