"""The before/after comparison (tests/compare_runs.py) sees every kind of difference it promises to see."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.compare_runs import compare_runs, main


def _warehouse(path: Path, rows: list[tuple[str, int]]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.mart_trends (geo_code varchar, persons bigint)")
    con.executemany("insert into marts.mart_trends values (?, ?)", rows)
    con.close()
    return path


def _published(path: Path, persons: int, published_at: str) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create table mart_trends as select '0301' as geo_code, ?::bigint as persons", [persons])
    con.execute(
        "create table publication_metadata as select 'id-' || ? as publication_id, ?::timestamp as published_at,"
        " 5 as suppression_threshold",
        [published_at, published_at],
    )
    con.close()
    return path


def test_identical_runs(tmp_path: Path) -> None:
    rows = [("0301", 10), ("5001", 7)]
    a = _warehouse(tmp_path / "a.duckdb", rows)
    b = _warehouse(tmp_path / "b.duckdb", list(reversed(rows)))
    pa_, pb = _published(tmp_path / "pa.duckdb", 10, "2026-01-01"), _published(tmp_path / "pb.duckdb", 10, "2026-02-01")
    result = compare_runs((a, b), (pa_, pb))
    assert result.identical, result.differences
    assert (result.tables, result.rows) == (3, 4)
    assert main(["--warehouse", str(a), str(b), "--published", str(pa_), str(pb)]) == 0


def test_a_changed_value_a_duplicate_row_and_a_missing_table_are_differences(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [("0301", 10), ("5001", 7)])
    changed = _warehouse(tmp_path / "b.duckdb", [("0301", 11), ("5001", 7)])
    result = compare_runs((a, changed), None)
    assert sorted(result.differences) == [
        "a.duckdb:marts.mart_trends: 1 rows after only",
        "a.duckdb:marts.mart_trends: 1 rows before only",
    ]
    duplicated = _warehouse(tmp_path / "c.duckdb", [("0301", 10), ("5001", 7), ("5001", 7)])
    assert compare_runs((a, duplicated), None).differences == ["a.duckdb:marts.mart_trends: 1 rows after only"]
    con = duckdb.connect(str(duplicated))
    con.execute("create table marts.mart_extra (x int)")
    con.close()
    assert "marts.mart_extra: only after" in compare_runs((a, duplicated), None).differences
    published_a = _published(tmp_path / "pa.duckdb", 10, "2026-01-01")
    published_b = _published(tmp_path / "pb.duckdb", 12, "2026-01-01")
    assert main(["--published", str(published_a), str(published_b)]) == 1
