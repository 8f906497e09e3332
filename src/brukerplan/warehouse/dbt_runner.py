"""Run dbt in-process with the warehouse settings (used by `brukerplan build` and by the tests)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from brukerplan.restricted import private_dir, private_files
from brukerplan.settings import Settings

BUILD_YEARS_ENV = "BRUKERPLAN_BUILD_YEARS"  # read by macros/build_years.sql


@dataclass
class DbtOutcome:
    success: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    target_path: Path | None = None


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def release_duckdb() -> None:
    """dbt-duckdb keeps the last database open in a class-level singleton; close it so the file can be
    reopened (read-only, or by another process) after dbt returns."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as Manager

    with Manager._LOCK:
        if Manager._ENV is not None:
            Manager._ENV.close()
            Manager._ENV = None


def run_dbt(
    args: Sequence[str],
    settings: Settings,
    target_path: Path | None = None,
    log_path: Path | None = None,
    quiet: bool = True,
    build_years: Sequence[int] | None = None,
) -> DbtOutcome:
    """Invoke dbt (e.g. ["build"]) on the project with the settings' paths in the environment.

    target_path and log_path default to build/ folders beside the warehouse file, so concurrent runs against
    different warehouses never share dbt's artefacts. `build_years`: the mapping years of an incremental build
    (macros/build_years.sql), None for a full one. They reach dbt as the environment variable
    BRUKERPLAN_BUILD_YEARS, always set here (empty for a full build, whatever the caller's shell has): dbt's
    partial parsing re-parses only what reads a changed environment variable, where a changed `--vars` makes
    it parse the whole project again (docs/decisions.md W8)."""
    from dbt.cli.main import dbtRunner

    private_dir(settings.warehouse.parent)
    base = settings.warehouse.parent
    target = target_path or base / "dbt_target"
    logs = log_path or base / "dbt_logs"
    project = str(settings.project_dir)
    cli = [
        *args,
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
    ]
    if quiet:
        cli.append("--quiet")
    started = time.perf_counter()
    years = "" if build_years is None else json.dumps(list(build_years))
    with _environment({**settings.as_env(), BUILD_YEARS_ENV: years}), private_files():
        try:
            result = dbtRunner().invoke(cli)
        finally:
            release_duckdb()
    seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    failures: list[str] = []
    results = getattr(result.result, "results", None) or []
    for node_result in results:
        status = str(getattr(node_result, "status", "unknown")).lower()
        counts[status] = counts.get(status, 0) + 1
        if status in {"error", "fail", "runtime error"}:
            node = getattr(node_result, "node", None)
            name = getattr(node, "unique_id", "?")
            failures.append(f"{name}: {getattr(node_result, 'message', '')}")
    if result.exception is not None:
        failures.append(str(result.exception))
    return DbtOutcome(
        success=bool(result.success), seconds=seconds, counts=counts, failures=failures, target_path=target
    )
