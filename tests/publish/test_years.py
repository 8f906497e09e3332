"""A mapping year whose input did not change is taken from its record without building its equations (years.py,
decisions P19): the result equals a fresh publish, and a change in one year's input invalidates that year only."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from brukerplan.publish import publish
from brukerplan.publish import years as years_module
from brukerplan.publish.equations import blocks_of
from brukerplan.publish.publisher import _attach_warehouse, _load, solved_parts_store
from brukerplan.publish.spec import load_spec
from brukerplan.publish.years import YEARS_DIR, fingerprinted, input_base, input_fingerprints
from brukerplan.settings import PROJECT_DIR
from tests.publish.conftest import build_and_publish, describe_like_persist_docs
from tests.publish.test_parts import _published_tables
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse

BEFORE = FixtureShape(years=(2017, 2019, 2021), seed_per_submission=True, absent=((2017, "3403"),))
AFTER = FixtureShape(
    years=(2017, 2019, 2021), seed_per_submission=True, absent=BEFORE.absent, resubmitted=((2019, "5001"),)
)


def _fingerprints(warehouse: Path) -> dict[int, str]:
    """Per mapping year (the hash of its text): its input fingerprint, as publish computes it."""
    con = duckdb.connect()
    try:
        _attach_warehouse(con, warehouse)
        spec, _ = _load(con, load_spec())
        blocks, _, _ = fingerprinted(con, spec, blocks_of(spec))
        return input_fingerprints(con, spec, blocks, input_base(spec, 5, 20_000))
    finally:
        con.close()


def _year_hash(year: int) -> int:
    return int(duckdb.sql(f"select hash('{year}'::varchar)").fetchall()[0][0])


def _built_years(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    """Record the years whose equations each publish builds."""
    calls: list[list[int] | None] = []
    original = years_module.build_equations

    def recording(con: duckdb.DuckDBPyConnection, spec: object, only: list[int] | None = None) -> object:
        calls.append(None if only is None else sorted(only))
        return original(con, spec, only)  # type: ignore[arg-type]

    monkeypatch.setattr(years_module, "build_equations", recording)
    return calls


def test_unchanged_years_are_taken_without_their_equations_and_equal_a_fresh_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Published (2017, 2019, 2021), then 2019 resubmitted: the equations of the changed years only are built,
    2017 comes from its record, and every published table equals a fresh publish of the same warehouse. A
    republish with nothing changed builds no equation and gives the same tables again."""
    built = _built_years(monkeypatch)
    settings, first = build_and_publish(tmp_path / "incremental", BEFORE)
    assert (first.years, first.years_unchanged) == (3, 0)
    assert built == [sorted(_year_hash(y) for y in (2017, 2019, 2021))]
    records = solved_parts_store(settings) / YEARS_DIR
    assert len(list(records.glob("*.npz"))) == 3
    before = _published_tables(settings.published)

    make_warehouse(settings.warehouse, AFTER)
    describe_like_persist_docs(settings.warehouse)
    again = publish(settings)
    # the fixture draws the data-quality rejects and the service sets of 2021 anew too: 2017 alone is unchanged
    assert (again.years, again.years_unchanged) == (3, 1)
    assert built[1:] == [sorted(_year_hash(y) for y in (2019, 2021))]
    assert (again.parts.parts, again.parts.reused, again.parts.solved) == (3, 1, 2)
    assert len(list(records.glob("*.npz"))) == 3  # the records of this publication only

    fresh_settings, fresh = build_and_publish(tmp_path / "fresh", AFTER, reuse=False)
    assert (fresh.years_unchanged, fresh.parts.reused, fresh.parts.solved) == (0, 0, 3)
    incremental, full = _published_tables(settings.published), _published_tables(fresh_settings.published)
    assert set(incremental) == set(full) and len(full) >= 6
    for name, rows in full.items():
        assert incremental[name] == rows, f"{name} differs between the reusing and the fresh publication"
    assert again.withheld_cells == fresh.withheld_cells
    assert again.stats.cells == fresh.stats.cells and again.stats.equations == fresh.stats.equations
    assert (again.stats.primary, again.stats.complementary) == (fresh.stats.primary, fresh.stats.complementary)
    assert again.stats.derived == fresh.stats.derived and again.stats.per_table == fresh.stats.per_table
    # the resubmission did change 2019's published cells: a stale 2019 record would have shown above
    assert _published_tables(settings.published)["mart_trends"] != before["mart_trends"]

    unchanged = publish(settings)
    assert (unchanged.years_unchanged, unchanged.parts.solved) == (3, 0)
    assert built[2:] == [sorted(_year_hash(y) for y in (2017, 2019, 2021))]  # the fresh publish's only
    assert _published_tables(settings.published) == incremental


def test_a_change_in_one_year_changes_that_years_fingerprint_only(tmp_path: Path) -> None:
    """One count of 2019 altered in the warehouse (and its copy as the previous persons of 2021, as a build
    would): 2019's input fingerprint changes, 2017's and 2021's do not."""
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse, BEFORE)
    before = _fingerprints(warehouse)
    assert set(before) == {_year_hash(y) for y in (2017, 2019, 2021)}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "update marts.mart_trends set persons = persons + 1 "
            "where geo_code = '5001' and mapping_year = 2019 and user_group = 'all'"
        )
        con.execute(
            "update marts.mart_trends set previous_persons = previous_persons + 1 "
            "where geo_code = '5001' and previous_mapping_year = 2019 and user_group = 'all'"
        )
    finally:
        con.close()
    after = _fingerprints(warehouse)
    changed = {year for year in before if before[year] != after[year]}
    assert changed == {_year_hash(2019)}


def test_a_municipality_left_out_of_one_year_changes_that_year_only(tmp_path: Path) -> None:
    """A municipality-year's rows deleted from every mart: that year's fingerprint changes, no other's."""
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse, BEFORE)
    before = _fingerprints(warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        for table in ("mart_trends", "mart_living_conditions", "mart_housing", "mart_services"):
            con.execute(f"delete from marts.{table} where geo_code = '5001' and mapping_year = 2021")
    finally:
        con.close()
    after = _fingerprints(warehouse)
    assert {year for year in before if before[year] != after[year]} == {_year_hash(2021)}


def test_a_stale_or_unreadable_record_is_not_used(tmp_path: Path) -> None:
    """Records kept under a fingerprint that no longer matches (another threshold) are not used, and an
    unreadable record is solved again with the same result."""
    settings, first = build_and_publish(tmp_path, BEFORE)
    records = solved_parts_store(settings) / YEARS_DIR
    for path in records.glob("*.npz"):
        path.write_bytes(b"not a record")
    again = publish(settings)
    assert again.years_unchanged == 0 and again.parts.solved == 0  # the parts store still has the parts
    assert again.withheld_cells == first.withheld_cells
    other = publish(dataclasses.replace(settings, suppression_threshold=4))
    assert other.years_unchanged == 0 and other.parts.solved == 3


FINGERPRINT_BASE = """
from brukerplan.publish.spec import load_spec
from brukerplan.publish.years import input_base
print(input_base(load_spec(), 5, 20000).hex())
"""


def test_the_fingerprint_base_is_the_same_in_every_process() -> None:
    """The spec enters the fingerprint in a canonical form: Python's string hashing differs between processes
    and must not change it (it did, through dicts filled in set order)."""
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(PROJECT_DIR)}
        done = subprocess.run(
            [sys.executable, "-c", FINGERPRINT_BASE], capture_output=True, text=True, check=True, env=env
        )
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1
