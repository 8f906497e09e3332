"""The build record: the row that dbt itself writes into meta.build_record of the warehouse it works on
(macros/build_record.sql, on-run-start and on-run-end), whichever way dbt was started. This module reads the
newest row; `brukerplan build` swaps a new warehouse in only when it is green, and publish's gate
(brukerplan.publish.gate) refuses a warehouse whose newest row is not a green `build`. No dbt import here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from brukerplan.restricted import write_private_text

SCHEMA = "meta"
TABLE = "build_record"
GREEN = "green"  # every node ended success, pass, warn or no-op (the macro decides)
RUNNING = "running"  # written by on-run-start; left so when dbt died before on-run-end

COLUMNS = (
    "invocation_id",
    "command",
    "selection",
    "started_at",
    "ended_at",
    "status",
    "nodes",
    "node_counts",
    "failing_nodes",
    "submission_ids",
    "landing",
    "dbt_version",
)


@dataclass(frozen=True)
class FailingNode:
    node: str  # dbt unique id, e.g. test.brukerplan.not_null_mart_trends_persons
    status: str  # error, fail, skipped, runtime error, …
    message: str


@dataclass(frozen=True)
class BuildRecord:
    invocation_id: str
    command: str  # build, run, test, seed, …
    selection: str | None  # "--select …" / "--exclude …" as given, None for everything
    started_at: dt.datetime
    ended_at: dt.datetime | None
    status: str  # running | green | not green
    nodes: int | None
    node_counts: dict[str, int]
    failing_nodes: tuple[FailingNode, ...]
    submission_ids: tuple[str, ...] | None  # staging's submissions at the end; None when staging has none
    landing: str | None  # the landing zone dbt read (macros/landing.sql landing_root())
    dbt_version: str

    @property
    def is_green_build(self) -> bool:
        return self.command == "build" and self.status == GREEN

    @property
    def generated_at(self) -> dt.datetime:
        """When the record was completed (its start when it never was)."""
        return self.ended_at or self.started_at

    def describe(self) -> str:
        """`dbt build` (invocation …, ended …) for messages."""
        if self.ended_at:
            when = f"ended {self.ended_at.isoformat(timespec='seconds')}"
        else:
            when = f"started {self.started_at.isoformat(timespec='seconds')}"
        selection = f" {self.selection}" if self.selection else ""
        return f"`dbt {self.command}{selection}` (invocation {self.invocation_id}, {when})"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None) -> bool:
    """Whether `catalog` (an attached database; default: the connection's own) has the table schema.table."""
    database = catalog or con.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [database, schema, table],
    ).fetchone()
    return bool(exists and exists[0])


def last_build_record(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> BuildRecord | None:
    """The newest row of meta.build_record in `catalog` (an attached database; default: the connection's own),
    or None when the warehouse has no build record."""
    database = catalog or con.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    if not has_table(con, SCHEMA, TABLE, database):
        return None
    row = con.execute(
        f"select {', '.join(COLUMNS)} from {_quote(database)}.{SCHEMA}.{TABLE} "
        "order by started_at desc, ended_at desc nulls first limit 1"
    ).fetchone()
    if row is None:
        return None
    values = dict(zip(COLUMNS, row, strict=True))
    failing = tuple(
        FailingNode(str(f["node"]), str(f["status"]), str(f["message"] or "")) for f in values["failing_nodes"] or []
    )
    submissions = values["submission_ids"]
    return BuildRecord(
        invocation_id=str(values["invocation_id"]),
        command=str(values["command"]),
        selection=values["selection"],
        started_at=values["started_at"],
        ended_at=values["ended_at"],
        status=str(values["status"]),
        nodes=values["nodes"],
        node_counts=dict(values["node_counts"] or {}),
        failing_nodes=failing,
        submission_ids=tuple(submissions) if submissions is not None else None,
        landing=values["landing"],
        dbt_version=str(values["dbt_version"]),
    )


def failed_attempt_path(warehouse: Path) -> Path:
    """Where `brukerplan build` notes a build it did not swap in (JSON beside the warehouse, removed by the next
    green swap). The warehouse itself still holds, and its record still describes, the previous green build; this
    note only says that a newer attempt failed, so that publish does not present the old build as the latest."""
    return warehouse.with_name(f"{warehouse.name}.failed-build.json")


@dataclass(frozen=True)
class FailedAttempt:
    at: dt.datetime
    reason: str
    failures: tuple[str, ...]


def note_failed_attempt(warehouse: Path, reason: str, failures: list[str]) -> Path:
    """Write the note atomically (0600, like the warehouse folder's other files)."""
    import json

    data = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "reason": reason, "failures": failures[:20]}
    return write_private_text(failed_attempt_path(warehouse), json.dumps(data, indent=2))


def read_failed_attempt(warehouse: Path) -> FailedAttempt | None:
    import json

    path = failed_attempt_path(warehouse)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return FailedAttempt(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC), "unreadable note", ())
    return FailedAttempt(dt.datetime.fromisoformat(data["at"]), str(data["reason"]), tuple(data.get("failures", ())))
