"""When publishing is allowed (docs/publishing.md, "When publish refuses"; docs/decisions.md P1, W2).

The one source of truth is the build record that dbt writes into the warehouse it builds (meta.build_record,
macros/build_record.sql), read here through the connection publish reads the marts with, so the record and the
marts are the same version of the file. The newest record must be a finished `build` whose status is green:
publish refuses a failed, interrupted or partial-command (`dbt run`, `dbt test`, `dbt seed`) last invocation and a
warehouse without a record. Then the landing zone's submissions are compared with the ones the build read:
missing ones are a warning, or a refusal with `--require-current`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from brukerplan.warehouse.plan import landing_submissions
from brukerplan.warehouse.record import RUNNING, BuildRecord, last_build_record, read_failed_attempt

__all__ = ["BuildNotGreen", "BuildRecord", "GateResult", "check_build", "landing_submissions"]

SHOWN = 5  # failing nodes or submission ids named in a message


class BuildNotGreen(RuntimeError):
    """The warehouse's last dbt invocation was not a green build, or it is not current and that was required."""


@dataclass(frozen=True)
class GateResult:
    build: BuildRecord
    missing: tuple[str, ...]  # submissions in the landing zone that the build did not read
    warnings: list[str] = field(default_factory=list)


def _listed(items: list[str] | tuple[str, ...]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def _green_build(con: duckdb.DuckDBPyConnection, catalog: str) -> BuildRecord:
    record = last_build_record(con, catalog)
    if record is None:
        raise BuildNotGreen(
            "the warehouse has no build record (meta.build_record, written by dbt at the end of every run): "
            "run `brukerplan build`"
        )
    what = record.describe()
    if record.status == RUNNING:
        raise BuildNotGreen(
            f"the last dbt invocation on the warehouse, {what}, never finished (it was interrupted, or its "
            "end-of-run hook failed), so the warehouse may be half rebuilt: run `brukerplan build`"
        )
    if record.command != "build":
        raise BuildNotGreen(
            f"the last dbt invocation on the warehouse was {what}, not `build`: run `brukerplan build` so that "
            "every model and test has run"
        )
    if not record.is_green_build:
        failing = [f"{f.node}: {f.status}" for f in record.failing_nodes] or [f"{record.nodes or 0} nodes"]
        raise BuildNotGreen(f"the last dbt build on the warehouse, {what}, was not green: {_listed(failing)}")
    return record


def check_build(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    landing: Path,
    require_current: bool = False,
    warehouse: Path | None = None,
    allow_failed_rebuild: bool = False,
) -> GateResult:
    """The gate on the warehouse attached as `catalog`: raises BuildNotGreen, or returns the build record and
    warnings (submissions of `landing` the build did not read; a refusal when `require_current`). When the last
    `brukerplan build` of `warehouse` failed (its note beside the file), publish refuses unless
    `allow_failed_rebuild`: the warehouse is the previous green build, consistent but not what was asked for."""
    record = _green_build(con, catalog)
    problem = ""
    failed = read_failed_attempt(warehouse) if warehouse is not None else None
    if failed is not None and failed.at > record.generated_at:
        problem = (
            f"the last `brukerplan build` failed ({failed.at:%Y-%m-%d %H:%M %Z}: {failed.reason}"
            f"{': ' + _listed(list(failed.failures)) if failed.failures else ''}); the warehouse still holds the "
            f"previous green build, {record.describe()}"
        )
        if not allow_failed_rebuild:
            raise BuildNotGreen(
                f"{problem}. Fix it and run `brukerplan build` again, or publish that previous build with "
                "--allow-failed-rebuild"
            )
    warnings = [f"{problem} (published with --allow-failed-rebuild)"] if failed is not None and problem else []
    built = set(record.submission_ids or ())
    present = landing_submissions(landing)
    missing = tuple(s for s in present if s not in built)
    if not landing.is_dir():
        problem = f"landing zone {landing} not found: cannot check that the warehouse includes every submission"
    elif missing:
        problem = (
            f"the landing zone {landing} has {len(missing)} submission{'s' if len(missing) != 1 else ''} that the "
            f"warehouse does not include ({_listed(missing)}; built {record.generated_at:%Y-%m-%d %H:%M %Z}): run "
            "`brukerplan build` to include them"
        )
    else:
        return GateResult(build=record, missing=missing, warnings=warnings)
    if require_current:
        raise BuildNotGreen(f"--require-current: {problem}")
    warnings.append(f"{problem} (--require-current refuses instead)")
    return GateResult(build=record, missing=missing, warnings=warnings)
