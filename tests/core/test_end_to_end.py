"""End to end on generated data: synth -> ingest -> dbt (the session chain of tests/conftest.py) -> persons per
mapping year, registered municipality and finest user group, and the de-duplication audit, equal the generator's
ground truth (docs/truth.md) exactly. Scale and years can be raised from the environment:

    BRUKERPLAN_TEST_SCALE=0.05 BRUKERPLAN_TEST_YEARS=2013-2024 .venv/bin/pytest tests/core/test_end_to_end.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pytest

from tests.conftest import ChainRun

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(chain: ChainRun) -> Iterator[duckdb.DuckDBPyConnection]:
    """The chain's warehouse (as wh, read-only) beside the generator's truth (all text); the dbt tests of this
    area passed on it."""
    assert chain.core_tests.success, chain.core_tests.failures
    connection = duckdb.connect(":memory:")
    connection.execute(f"attach '{chain.settings.warehouse}' as wh (read_only)")
    for name in ("persons", "dedup", "audit"):
        connection.execute(
            f"create view truth_{name} as select * from read_csv('{chain.truth / (name + '.csv')}', header = true, "
            "all_varchar = true)"
        )
    yield connection
    connection.close()


def _difference(con: duckdb.DuckDBPyConnection, ours: str, theirs: str) -> tuple[list[tuple], list[tuple]]:
    only_ours = con.execute(f"({ours}) except all ({theirs})").fetchall()
    only_truth = con.execute(f"({theirs}) except all ({ours})").fetchall()
    return only_ours, only_truth


def test_persons_per_year_municipality_and_group_equal_the_truth(con: duckdb.DuckDBPyConnection) -> None:
    ours = (
        "select mapping_year::varchar, municipality_code_registered, user_group, count(*)::varchar "
        "from wh.core.fct_person_year group by all"
    )
    theirs = "select mapping_year, municipality_code_registered, user_group, persons from truth_persons"
    assert con.execute(f"select count(*) from ({theirs})").fetchone()[0] > 0, "empty truth"
    assert _difference(con, ours, theirs) == ([], [])


def test_dedup_audit_equals_the_truth(con: duckdb.DuckDBPyConnection) -> None:
    columns = (
        "mapping_year::varchar, person_id, submission_id, registration_id, municipality_code_registered, "
        "kept_submission_id, kept_registration_id, kept_municipality_code_registered, deciding_tiebreak, "
        "lower(is_cross_municipality::varchar)"
    )
    ours = f"select {columns} from wh.core.dedup_audit"
    theirs = f"select {columns} from truth_dedup"
    assert con.execute("select count(*) from truth_dedup").fetchone()[0] > 0, "no duplicates in the truth"
    assert _difference(con, ours, theirs) == ([], [])


def test_audit_figures_per_municipality_and_year_equal_the_truth(con: duckdb.DuckDBPyConnection) -> None:
    ours = """
        with registrations as (select * from wh.intermediate.int_current_submission),
        dropped as (select * from wh.core.dedup_audit),
        persons as (select * from wh.core.fct_person_year),
        raw as (
            select mapping_year, municipality_code_registered, count(*) as registrations_raw,
                count(*) filter (where not is_current) as superseded
            from registrations group by all
        ),
        dup as (
            select mapping_year, municipality_code_registered, count(*) as duplicates_removed,
                count(*) filter (where is_cross_municipality) as duplicates_cross_municipality
            from dropped group by all
        ),
        kept as (select mapping_year, municipality_code_registered, count(*) as persons from persons group by all)
        select raw.mapping_year::varchar, raw.municipality_code_registered, raw.registrations_raw::varchar,
            raw.superseded::varchar, coalesce(dup.duplicates_removed, 0)::varchar,
            coalesce(dup.duplicates_cross_municipality, 0)::varchar, coalesce(kept.persons, 0)::varchar
        from raw
        left join dup using (mapping_year, municipality_code_registered)
        left join kept using (mapping_year, municipality_code_registered)
    """
    theirs = (
        "select mapping_year, municipality_code_registered, registrations_raw, superseded, duplicates_removed, "
        "duplicates_cross_municipality, persons from truth_audit"
    )
    assert _difference(con, ours, theirs) == ([], [])


def test_every_dbt_unit_test_passes(chain: ChainRun) -> None:
    """`brukerplan build` leaves the unit tests out of every data build (docs/decisions.md W3): they run here,
    all of them, on every `make test`."""
    manifest = json.loads((chain.root / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    assert chain.unit_tests.success, chain.unit_tests.failures
    assert len(manifest["unit_tests"]) >= 20
    assert chain.unit_tests.counts.get("pass", 0) == len(manifest["unit_tests"])
