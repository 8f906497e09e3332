"""Full or incremental: what `brukerplan build` rebuilds (docs/decisions.md W6).

An incremental build starts from a copy of the live warehouse and rebuilds the per-year models (macros/
build_years.sql) only for the mapping years of the submissions the live warehouse has not read; every other model
and every test runs as in a full build. It is chosen only when the live warehouse can be trusted to be what a full
build of the same project would have left:

* its newest build record is a green `build` of everything (no `--select`), written by the build that also wrote
  its build inputs (meta.build_inputs: the invocation ids are the same, so no dbt command ran on it since);
* its build inputs' fingerprint equals this build's: the project's SQL, macros, seeds and dbt settings, the software
  and dbt/DuckDB versions and the one setting the models read (the landing root);
* every submission it read is still in the landing zone (the zone only grows; anything else is a different zone).

"Read" means: with rows in its `staging.stg_landing__registrations`, the table every per-year model is built from.
Not the build record's list (staging's submissions): a submission landed while a build ran can be in that list
without its rows, and would then never be built.

Otherwise, or with `--full`, the build is full. No dbt import here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from brukerplan import __version__
from brukerplan.ingest.contract import landing_tables
from brukerplan.settings import Settings
from brukerplan.warehouse.record import SCHEMA, has_table, last_build_record

INPUTS_TABLE = "build_inputs"
REGISTRATIONS = ("staging", "stg_landing__registrations")
PROJECT_PARTS = ("models", "macros", "seeds", "dbt_project.yml", "profiles.yml")
"""What in the project decides the warehouse's tables (tests, analyses and docs do not)."""


def landing_submissions(landing: Path) -> list[str]:
    """Ids of the submissions in the landing zone: those whose record exists (warehouse.md, "Landing zone")."""
    pattern = landing_tables()["submissions"].glob  # submissions/*.json, from the landing contract
    return sorted(path.stem for path in landing.glob(pattern))


def submission_year(landing: Path, submission_id: str) -> int:
    """The mapping year in a submission's record."""
    pattern = landing_tables()["submissions"].glob.replace("*", submission_id, 1)
    (path,) = landing.glob(pattern)
    return int(json.loads(path.read_text(encoding="utf-8"))["mapping_year"])


def fingerprint(settings: Settings) -> str:
    """SHA-256 of everything that decides the tables of a build besides the landing zone's submissions."""
    import dbt.version

    digest = hashlib.sha256()
    read = {"landing": str(settings.landing.resolve())}  # the only setting the models read (dbt var `landing`)
    versions = {"brukerplan": __version__, "dbt": dbt.version.__version__, "duckdb": duckdb.__version__}
    digest.update(json.dumps({"settings": read, "versions": versions}, sort_keys=True).encode())
    root = settings.project_dir
    for part in PROJECT_PARTS:
        path = root / part
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists() and "__pycache__" not in file.parts:
                digest.update(file.relative_to(root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildPlan:
    years: tuple[int, ...] | None  # the mapping years rebuilt by an incremental build; None: a full build
    reason: str  # why full, or which submissions are new

    @property
    def incremental(self) -> bool:
        return self.years is not None

    def describe(self) -> str:
        if self.years is None:
            return f"full build ({self.reason})"
        years = ", ".join(map(str, self.years)) or "none"
        return f"incremental build: mapping years {years} ({self.reason})"


def _stored_inputs(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(invocation id, fingerprint) of the build that wrote the warehouse, if it wrote them."""
    if not has_table(con, SCHEMA, INPUTS_TABLE):
        return None
    row = con.execute(f"select invocation_id, fingerprint from {SCHEMA}.{INPUTS_TABLE}").fetchone()
    return (str(row[0]), str(row[1])) if row else None


def _read_submissions(con: duckdb.DuckDBPyConnection) -> set[str] | None:
    """The submissions whose rows the per-year models were built from (None: no such table)."""
    if not has_table(con, *REGISTRATIONS):
        return None
    rows = con.execute(f"select distinct submission_id from {'.'.join(REGISTRATIONS)}").fetchall()
    return {str(row[0]) for row in rows}


def plan_build(copy: Path, settings: Settings, print_: str) -> BuildPlan:
    """Full or incremental, for a build starting from `copy` (a copy of the live warehouse) whose inputs have the
    fingerprint `print_`."""
    con = duckdb.connect(str(copy), read_only=True)
    try:
        record = last_build_record(con)
        stored = _stored_inputs(con)
        read = _read_submissions(con)
    finally:
        con.close()
    if record is None or not record.is_green_build or record.selection:
        return BuildPlan(None, "the live warehouse's last dbt invocation was not a green build of everything")
    if stored is None or stored[0] != record.invocation_id:
        return BuildPlan(None, "the live warehouse has no build inputs of its last build")
    if stored[1] != print_:
        return BuildPlan(None, "the project, the settings or the versions changed since the live warehouse was built")
    if read is None:
        return BuildPlan(None, "the live warehouse has no staged registrations")
    present = set(landing_submissions(settings.landing))
    if not read <= present:
        return BuildPlan(
            None, f"{len(read - present)} submission(s) the live warehouse read are not in the landing zone"
        )
    new = sorted(present - read)
    years = sorted({submission_year(settings.landing, sid) for sid in new})
    return BuildPlan(tuple(years), f"{len(new)} new submission(s)")


def store_inputs(database: Path, print_: str) -> None:
    """Note the fingerprint in the new warehouse, with the invocation id of the build that wrote it."""
    con = duckdb.connect(str(database))
    try:
        record = last_build_record(con)
        assert record is not None
        con.execute(f"create schema if not exists {SCHEMA}")
        con.execute(f"create or replace table {SCHEMA}.{INPUTS_TABLE} (invocation_id varchar, fingerprint varchar)")
        con.execute(f"insert into {SCHEMA}.{INPUTS_TABLE} values (?, ?)", [record.invocation_id, print_])
        con.execute("checkpoint")
    finally:
        con.close()
