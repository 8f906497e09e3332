"""The generic test column_constraints (macros/generic_tests.sql, docs/decisions.md W3): the column constraints a
model's or seed's YAML declares (not_null, check) are checked in one scan, and each broken constraint is one
failing row naming it, with the number of rows that break it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.seed_probe import probe

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
    ok, stored = probe(tmp_path, "zz_constraint_probe", "id,colour,score\n" + rows, PROBE_YAML, "column_constraints")
    return ok, [(str(name), int(n)) for name, n in stored]


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
