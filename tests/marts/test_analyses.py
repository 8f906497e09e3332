"""The example queries in analyses/ compile with dbt and run against the warehouse built from generated data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import PROJECT_DIR
from tests.conftest import ChainRun

ANALYSES = sorted(path.stem for path in (PROJECT_DIR / "analyses").glob("*.sql"))


@pytest.fixture(scope="module")
def compiled(chain: ChainRun) -> Path:
    assert chain.analyses.success, chain.analyses.failures
    return chain.compiled_analyses


def test_there_are_analyses_with_a_header_comment() -> None:
    assert len(ANALYSES) >= 4
    for name in ANALYSES:
        text = (PROJECT_DIR / "analyses" / f"{name}.sql").read_text(encoding="utf-8")
        assert text.startswith("-- Question:"), f"{name}.sql must start with a comment stating its question"


@pytest.mark.slow
@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_runs(name: str, compiled: Path, warehouse: duckdb.DuckDBPyConnection) -> None:
    sql = (compiled / f"{name}.sql").read_text(encoding="utf-8")
    result = warehouse.execute(sql)
    columns = [c[0] for c in result.description]
    rows = result.fetchall()
    assert columns, name
    assert len(set(columns)) == len(columns), f"{name}: duplicate column names {columns}"
    if name in {"participation_coverage_by_county", "largest_service_gaps_per_county"}:
        assert rows, f"{name} returned no rows on generated data"


@pytest.mark.slow
def test_trondheim_analysis_matches_the_mart(compiled: Path, warehouse: duckdb.DuckDBPyConnection) -> None:
    sql = (compiled / "trondheim_persons_per_1000.sql").read_text(encoding="utf-8")
    answer = {(row[0], row[1]) for row in warehouse.execute(sql).fetchall()}
    expected = set(
        warehouse.execute(
            """select mapping_year, persons from brukerplan.marts.mart_trends
               where geo_level = 'municipality' and geo_code = '5001' and user_group = 'all'"""
        ).fetchall()
    )
    assert answer == expected


@pytest.mark.slow
def test_service_gaps_are_the_largest_per_county(compiled: Path, warehouse: duckdb.DuckDBPyConnection) -> None:
    sql = (compiled / "largest_service_gaps_per_county.sql").read_text(encoding="utf-8")
    rows = warehouse.execute(sql).fetchall()
    by_county: dict[str, list[int]] = {}
    for county_code, _name, _year, rank, _service, received, recommended, gap in rows:
        assert gap == recommended - received
        by_county.setdefault(county_code, []).append(gap)
        assert rank == len(by_county[county_code])
    for county_code, gaps in by_county.items():
        assert gaps == sorted(gaps, reverse=True), county_code
        largest = warehouse.execute(
            """select max(gap) from brukerplan.marts.mart_services
               where geo_level = 'county' and geo_code = ? and user_group = 'all'
                 and mapping_year = (select max(mapping_year) from brukerplan.marts.mart_services
                                     where geo_level = 'county' and geo_code = ?)""",
            [county_code, county_code],
        ).fetchone()[0]
        assert gaps[0] == largest
