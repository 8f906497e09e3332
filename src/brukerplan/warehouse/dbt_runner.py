"""Run dbt in-process with the warehouse settings (used by `brukerplan build` and by the tests)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from brukerplan.restricted import private_dir, private_files
from brukerplan.settings import ENV, Settings

BUILD_YEARS_ENV = "BRUKERPLAN_BUILD_YEARS"  # read by macros/build_years.sql
WAREHOUSE_ENV = ENV["warehouse"]  # read by profiles.yml
PARSE_FILE = "partial_parse.msgpack"  # dbt's saved parse, in its target folder


@dataclass
class DbtOutcome:
    success: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    target_path: Path | None = None


@dataclass(frozen=True)
class ParseCache:
    """The project's last parse by dbt (`build/dbt-parse/` of the project), given to a dbt target folder that has
    none, so that the first build of a new warehouse parses only what differs (decisions W14). dbt checks a saved
    parse against the project's files, versions, vars, connection and environment variables before using any of
    it, and parses again what it cannot trust: a stale copy costs time, never correctness."""

    project: Path

    @property
    def path(self) -> Path:
        return self.project / "build" / "dbt-parse" / PARSE_FILE

    def seed(self, target: Path) -> None:
        if (target / PARSE_FILE).exists() or not self.path.exists():
            return
        private_dir(target)
        with contextlib.suppress(OSError):  # a cache that cannot be read: dbt parses everything, as without one
            shutil.copyfile(self.path, target / PARSE_FILE)

    def keep(self, target: Path) -> None:
        """The target's parse becomes the project's, replaced whole (concurrent dbt runs each write their own
        file and rename it over the cache)."""
        parsed = target / PARSE_FILE
        if not parsed.exists():
            return
        with contextlib.suppress(OSError):  # a read-only project: no cache, nothing else changes
            folder = private_dir(self.path.parent)
            fd, name = tempfile.mkstemp(dir=folder, prefix=f".{PARSE_FILE}.")
            try:
                with os.fdopen(fd, "wb") as out, parsed.open("rb") as source:
                    shutil.copyfileobj(source, out)
                os.replace(name, self.path)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise


@contextmanager
def _working_directory(folder: Path) -> Iterator[None]:
    """`folder` as the working directory while dbt runs, the caller's again afterwards (if it still exists)."""
    try:
        saved: str | None = os.getcwd()
    except FileNotFoundError:  # the caller's folder was removed: there is nothing to go back to
        saved = None
    os.chdir(folder)
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError):
                os.chdir(saved)


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
    it parse the whole project again (docs/decisions.md W8). dbt runs in the warehouse's folder and sees the warehouse
    by its file name, and a target folder without a saved parse starts from the project's last one (W14)."""
    from dbt.cli.main import dbtRunner

    warehouse = settings.warehouse.resolve()
    base = private_dir(warehouse.parent)
    target = (target_path or base / "dbt_target").resolve()
    logs = (log_path or base / "dbt_logs").resolve()
    project = settings.project_dir.resolve()
    cli = [
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
    ]
    if quiet:
        cli.append("--quiet")
    started = time.perf_counter()
    years = "" if build_years is None else json.dumps(list(build_years))
    # dbt sees the warehouse by its file name, in its folder as the working directory: the connection is part of
    # what dbt's saved parse is checked against, so with one name every new warehouse can start from the project's
    # last parse (decisions W14)
    env = {**settings.with_paths(warehouse=warehouse).as_env(), BUILD_YEARS_ENV: years}
    env[WAREHOUSE_ENV] = warehouse.name
    cache = ParseCache(project)
    with _environment(env), private_files(), _working_directory(base):
        cache.seed(target)
        try:
            result = dbtRunner().invoke(cli)
        finally:
            release_duckdb()
        cache.keep(target)
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
