"""`brukerplan build`: `dbt build` into a new warehouse file beside the live one, swapped in only when green.

Builds never block readers and readers never see half a build (docs/decisions.md W1):

1. One build of a warehouse at a time (`<warehouse>.build.lock`, a second build waits). Files left by a
   killed build (`<stem>.building.duckdb`, its `.wal`; `<stem>.building-<pid>.duckdb` of older versions) are
   removed.
2. dbt builds `<stem>.building.duckdb` in the same folder (0600; DuckDB names the catalog after the part
   of the file name before the first dot, so the new file's views name the same catalog as the live one's). A
   full build starts from an empty file (seeds are loaded by every build). A `--select` build starts from a copy
   of the live file, so the nodes it does not select stay as they were. An incremental build (plan.py, decisions
   W6) starts from a copy too and rebuilds the per-year models for the mapping years of the new submissions
   only; everything else, tests included, runs as in a full build.
3. Green = dbt succeeded and the new file's build record (meta.build_record, written by dbt itself) says a
   green `build`. Then the file is checkpointed (no `.wal` left), fsynced and renamed over the live file with
   os.replace while a read-only connection on the live file proves that no process writes it. Readers that
   have the old file open keep reading the old version (Linux keeps the old inode) until they reconnect.
4. Not green: the new file is deleted and the live warehouse is untouched."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from brukerplan.durable import fsync_dir
from brukerplan.restricted import private_dir, private_files
from brukerplan.settings import Settings
from brukerplan.warehouse.dbt_runner import DbtOutcome, run_dbt
from brukerplan.warehouse.locks import build_lock, lock_holder
from brukerplan.warehouse.plan import BuildPlan, fingerprint, plan_build, store_inputs
from brukerplan.warehouse.record import BuildRecord, failed_attempt_path, last_build_record, note_failed_attempt

Say = Callable[[str], None]


@dataclass
class BuildResult:
    outcome: DbtOutcome
    warehouse: Path
    swapped: bool
    record: BuildRecord | None  # the new build's record (None when dbt never got to write one)
    previous: BuildRecord | None  # the live warehouse's record when the build was not swapped in
    reason: str = ""  # why the new build was not swapped in
    plan: BuildPlan | None = None  # full or incremental (None for a `--select` build)


def building_path(warehouse: Path) -> Path:
    """Where a build of `warehouse` is written before the swap: same folder, same catalog name. One name for
    every build (one build at a time holds the build lock): the path is part of the connection dbt's partial
    parsing compares, so a new name would make every build parse the whole project again (decisions W8)."""
    return warehouse.with_name(f"{warehouse.stem}.building{warehouse.suffix}")


def wal_path(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def _remove(database: Path) -> None:
    """A database file with its WAL and the folder DuckDB spills to beyond the memory limit (`<file>.tmp`)."""
    database.unlink(missing_ok=True)
    wal_path(database).unlink(missing_ok=True)
    shutil.rmtree(database.with_name(database.name + ".tmp"), ignore_errors=True)


def _leftovers(warehouse: Path) -> list[Path]:
    """New files of killed builds of this warehouse (only called under the build lock)."""
    return sorted(warehouse.parent.glob(f"{warehouse.stem}.building*{warehouse.suffix}"))


def _read_record(database: Path) -> BuildRecord | None:
    if not database.exists():
        return None
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error:
        return None
    try:
        return last_build_record(con)
    finally:
        con.close()


def _guard(warehouse: Path, doing: str) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection on the live file: while it is open no process can write the file. Raises
    BuildBlocked when a process writes it now (a `dbt build` run directly, or a read-write connection)."""
    if not warehouse.exists():
        return None
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise BuildBlocked(
            f"the warehouse {warehouse} is open for writing in {lock_holder(str(exc))}, so the new build cannot "
            f"{doing}; run `brukerplan build` again when that process has finished"
        ) from exc


class BuildBlocked(RuntimeError):
    """Another process writes the live warehouse (not a reader: readers never block a build)."""


def _copy_live(warehouse: Path, building: Path) -> None:
    """Start a `--select` build from the live warehouse (its file and a `.wal` a crashed writer left)."""
    guard = _guard(warehouse, "start from it")
    if guard is None:
        return
    try:
        shutil.copyfile(warehouse, building)
        if wal_path(warehouse).exists():
            shutil.copyfile(wal_path(warehouse), wal_path(building))
    finally:
        guard.close()


def _checkpoint(building: Path) -> None:
    """Fold a `.wal` into the file (dbt-duckdb closes with a checkpoint; this makes sure) and fsync it."""
    if wal_path(building).exists():
        con = duckdb.connect(str(building))
        try:
            con.execute("checkpoint")
        finally:
            con.close()
    if wal_path(building).exists():
        raise RuntimeError(f"{wal_path(building)} is still there after a checkpoint: the build was not swapped in")
    fd = os.open(building, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap(building: Path, warehouse: Path) -> None:
    guard = _guard(warehouse, "be swapped in")
    try:
        # no process writes the live file now, so a .wal beside it is a crashed writer's leftover: it would not
        # match the new file (DuckDB refuses to open a file whose WAL belongs to another), so it goes first
        wal_path(warehouse).unlink(missing_ok=True)
        os.replace(building, warehouse)
        fsync_dir(warehouse.parent)
    finally:
        if guard is not None:
            guard.close()


def build_warehouse(
    settings: Settings, select: str | None = None, say: Say | None = None, quiet: bool = False, full: bool = False
) -> BuildResult:
    """Build the warehouse of `settings` as described in the module docs (`full`: never incremental)."""
    tell = say or (lambda _msg: None)
    warehouse = settings.warehouse
    folder = private_dir(warehouse.parent)
    with build_lock(folder / f"{warehouse.name}.build.lock", on_wait=tell), private_files():
        for leftover in _leftovers(warehouse):
            tell(f"removing {leftover.name}, left by a build that was killed")
            _remove(leftover)
        building = building_path(warehouse)
        try:
            plan: BuildPlan | None = None
            print_: str | None = None  # a `--select` build stores no build inputs
            if select:
                _copy_live(warehouse, building)
            elif full or not warehouse.exists():
                print_ = fingerprint(settings)
                plan = BuildPlan(None, "asked for with --full" if full else "there is no warehouse yet")
            else:
                print_ = fingerprint(settings)
                try:
                    _copy_live(warehouse, building)
                    plan = plan_build(building, settings, print_)
                except BuildBlocked as exc:  # a full build then, refused at the swap if the writer is still there
                    plan = BuildPlan(None, f"the live warehouse cannot be copied: {exc}")
                if not plan.incremental:
                    _remove(building)
            if plan is not None:
                tell(plan.describe())
            # unit tests check the SQL against fixed inputs: they run in `make test`, not in every data build (W3);
            # an incremental build keeps the live warehouse's seeds, the same files by its plan's fingerprint (W13)
            skipped = ["unit_test", "seed"] if plan is not None and plan.incremental else ["unit_test"]
            args = ["build", *(a for kind in skipped for a in ("--exclude-resource-type", kind))]
            args += ["--select", select] if select else []
            outcome = run_dbt(
                args,
                settings.with_paths(warehouse=building),
                target_path=folder / "dbt_target",
                log_path=folder / "dbt_logs",
                quiet=quiet,
                build_years=plan.years if plan is not None else None,
            )
            record = _read_record(building)
            if not outcome.success or record is None or not record.is_green_build:
                reason = "dbt build failed" if not outcome.success else "its build record is not a green build"
                note_failed_attempt(warehouse, reason, outcome.failures)
                return BuildResult(outcome, warehouse, False, record, _read_record(warehouse), reason, plan)
            if plan is not None and print_ is not None:
                store_inputs(building, print_)
            _checkpoint(building)
            try:
                _swap(building, warehouse)
            except BuildBlocked as exc:
                note_failed_attempt(warehouse, str(exc), [])
                return BuildResult(outcome, warehouse, False, record, _read_record(warehouse), str(exc), plan)
            failed_attempt_path(warehouse).unlink(missing_ok=True)
            return BuildResult(outcome, warehouse, True, record, None, plan=plan)
        finally:
            _remove(building)
