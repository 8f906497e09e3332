"""The mart tests read the session chain of tests/conftest.py (synth -> ingest -> dbt into temporary
directories, built once per run); `warehouse` opens it with the ground truth and reference data beside it."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from brukerplan.settings import PROJECT_DIR
from tests.conftest import ChainRun


@pytest.fixture(scope="session")
def warehouse(chain: ChainRun) -> Iterator[duckdb.DuckDBPyConnection]:
    """The built warehouse, read-only, with the ground truth and reference data as views."""
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{chain.settings.warehouse}' as brukerplan (read_only)")
    truth_files = ("persons", "housing", "living_conditions", "services", "participation", "audit_submissions")
    for name in truth_files:
        con.execute(
            f"create view truth_{name} as select * from read_csv('{chain.truth / (name + '.csv')}', "
            "header = true, types = {'municipality_code_registered': 'varchar'})"
        )
    con.execute(f"create view truth_person_year as select * from read_parquet('{chain.truth / 'person_year.parquet'}')")
    reference = PROJECT_DIR / "seeds" / "reference"
    con.execute(
        f"create view ref_population as select * from read_csv('{reference / 'population.csv'}', header = true, "
        "types = {'municipality_code': 'varchar'})"
    )
    con.execute(
        f"create view ref_map as select * from read_csv('{reference / 'municipality_map_2024.csv'}', header = true, "
        "types = {'municipality_code': 'varchar', 'code_2024': 'varchar', 'weight': 'double'})"
    )
    yield con
    con.close()
