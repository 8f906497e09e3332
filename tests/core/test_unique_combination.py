"""The generic test unique_combination_of_columns (macros/generic_tests.sql, docs/decisions.md W10): a repeated key
fails with its number of rows, a key with a null fails, and a key repeated only in part (one column equal) passes,
although the test first groups by a hash of the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.seed_probe import probe

pytestmark = pytest.mark.slow

PROBE_YAML = """version: 2
seeds:
  - name: zz_key_probe
    config: {column_types: {code: varchar, year: integer, n: integer}}
    data_tests:
      - unique_combination_of_columns:
          arguments:
            combination_of_columns: [code, year]
"""


def _probe(tmp_path: Path, rows: str) -> tuple[bool, list[tuple[str | None, int | None, int]]]:
    """Build the probe seed and its test with `rows` (CSV body); the outcome and the stored failing rows."""
    ok, stored = probe(
        tmp_path, "zz_key_probe", "code,year,n\n" + rows, PROBE_YAML, "unique_combination", "code, year, n_rows"
    )
    return ok, [(code, year, int(n)) for code, year, n in stored]


def test_repeated_and_null_keys_fail_with_their_counts(tmp_path: Path) -> None:
    rows = "a,2020,1\na,2020,2\nb,2021,3\na,2020,4\na,2021,5\nb,2020,6\n,2021,7\nc,,8\n"
    ok, broken = _probe(tmp_path, rows)
    assert not ok
    assert broken == [(None, 2021, 1), ("a", 2020, 3), ("c", None, 1)]


def test_keys_equal_in_one_column_only_pass(tmp_path: Path) -> None:
    ok, broken = _probe(tmp_path, "a,2020,1\na,2021,2\nb,2020,3\nb,2021,4\nab,2020,5\na,202,6\n")
    assert ok and broken == []
