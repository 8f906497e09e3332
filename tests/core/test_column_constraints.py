"""The generic test column_constraints (macros/generic_tests.sql, docs/decisions.md W3): the column constraints a
model's or seed's YAML declares (not_null, check) are checked in one scan, and each broken constraint is one
failing row naming it, with the number of rows that break it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import PROJECT_DIR
from brukerplan.warehouse.dbt_runner import run_dbt
from tests.support import settings_under
from tests.warehouse.conftest import copy_project

pytestmark = pytest.mark.slow

PROBE_YAML = """version: 2
seeds:
  - name: zz_constraint_probe
    config: {column_types: {id: integer, colour: varchar, score: integer}}
    data_tests: [column_constraints]
    columns:
      - name: id
        constraints: [{type: not_null}]
      - name: colour
        constraints: [{type: check, expression: "colour in ('green', 'red')"}]
      - name: score
        constraints:
          - {type: not_null}
          - {type: check, expression: "score between 0 and 11"}
"""


def _probe(tmp_path: Path, rows: str) -> tuple[bool, list[tuple[str, int]]]:
    """Build the probe seed and its test with `rows` (CSV body); the outcome and the stored failing rows."""
    project = copy_project(PROJECT_DIR, tmp_path / "project")
    (project / "seeds" / "zz_constraint_probe.csv").write_text("id,colour,score\n" + rows, encoding="utf-8")
    (project / "seeds" / "zz_constraint_probe.yml").write_text(PROBE_YAML, encoding="utf-8")
    settings = dataclasses.replace(settings_under(tmp_path), project_dir=project)
    outcome = run_dbt(["build", "--select", "zz_constraint_probe", "--store-failures"], settings)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where table_name like 'column_constraints%'"
        ).fetchall()
        assert len(tables) == 1, tables
        stored = con.execute(f'select * from "{tables[0][0]}"."{tables[0][1]}" order by 1').fetchall()
    finally:
        con.close()
    return outcome.success, [(str(name), int(n)) for name, n in stored]


def test_each_broken_constraint_is_one_row_with_its_count(tmp_path: Path) -> None:
    ok, broken = _probe(tmp_path, "1,green,3\n,red,4\n2,purple,\n3,blue,12\n4,,0\n")
    assert not ok
    assert broken == [
        ("colour: colour in ('green', 'red')", 2),
        ("id not null", 1),
        ("score not null", 1),
        ("score: score between 0 and 11", 1),
    ]


def test_rows_that_keep_every_constraint_pass(tmp_path: Path) -> None:
    # a null colour passes its check (unknown, as with accepted_values); not_null is what forbids nulls
    ok, broken = _probe(tmp_path, "1,green,0\n2,,11\n")
    assert ok and broken == []
