"""The build record that dbt's hooks (macros/build_record.sql) write into the warehouse: what a real green
`brukerplan build` leaves, and the table tests/publish/warehouse_fixture.py creates (with the DDL it reads from
the macro) is the table a real build writes."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import duckdb
import pytest

from brukerplan.publish.gate import landing_submissions
from tests.publish.warehouse_fixture import write_build_record
from tests.warehouse.conftest import Built, read_record

pytestmark = pytest.mark.slow


def _columns(warehouse: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'meta' and table_name = 'build_record' order by ordinal_position"
        ).fetchall()
    finally:
        con.close()


def test_a_green_build_records_itself(built: Built) -> None:
    record = read_record(built.settings.warehouse)
    assert record is not None
    assert record.command == "build" and record.status == "green" and record.selection is None
    assert record.ended_at is not None and record.started_at <= record.ended_at
    assert record.nodes == sum(record.node_counts.values()) and record.nodes > 100
    assert set(record.node_counts) <= {"success", "pass", "warn", "no-op"}
    assert record.node_counts["pass"] > 0 and record.failing_nodes == ()
    assert list(record.submission_ids or ()) == landing_submissions(built.settings.landing)
    assert built.held not in (record.submission_ids or ())
    assert record.landing == str(built.built_from)
    assert record.dbt_version == importlib.metadata.version("dbt-core")


def test_the_publish_fixture_writes_the_same_table(built: Built, tmp_path: Path) -> None:
    fixture = tmp_path / "fixture.duckdb"
    write_build_record(fixture)
    assert _columns(fixture) == _columns(built.settings.warehouse)
