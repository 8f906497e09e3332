"""What the published file holds: no small count anywhere, no person-level data, the warehouse's values where
nothing is withheld, zeros as zeros, and every rate, share or mean computed from a withheld count withheld."""

from __future__ import annotations

import duckdb
import pytest

from brukerplan.publish import PublishResult
from brukerplan.settings import Settings
from tests.publish.attack import DERIVED as ATTACKER_DERIVED
from tests.publish.attack import KEYS

pytestmark = pytest.mark.slow

# integer columns that are not counts of persons (years, sort orders, numbers of municipalities, agencies and
# submissions, populations, the suppression bookkeeping): every other integer column is scanned
NOT_PERSON_COUNTS = {
    "mapping_year",
    "previous_mapping_year",
    "next_mapping_year",
    "area_order",
    "colour_order",
    "service_order",
    "sort_order",
    "participating_municipalities",
    "participating_municipalities_harmonised",
    "municipalities_in_force",
    "municipalities_participating",
    "municipalities_participating_rus",
    "municipalities_participating_mental",
    "population_16plus",
    "population_18plus",
    "population_16plus_covered",
    "population_16plus_covered_rus",
    "population_16plus_covered_mental",
    "agencies",
    "submissions",
    "years_participating",
    "quarantined_files",
    "withheld_cells",
    "suppression_threshold",
    "submissions_included",
    "tables_published",
    "row_count",
    "delivery_seq",
    # the suppression's own figures in publication_metadata: numbers of cells, components, programs, passes
    "cells_primary",
    "cells_complementary",
    "exact_audit_cells",
    "exact_audit_components",
    "exact_audit_largest_component",
    "exact_audit_passes",
    "lp_cells_checked",
    "lp_components_checked",
    "lp_components",
    "lp_programs",
    "lp_components_too_large",
    "lp_cells_protected",
    "propagation_cells_protected",
    # differences of two counts of the same row (may be negative, and small when both counts are large):
    # shown only when both counts are, so they reveal nothing the counts do not
    "gap",
    "change_persons",
}
PERSON_LEVEL_COLUMNS = {
    "person_id",
    "registration_id",
    "birth_year",
    "source_row",
    "mapped_on",
    "kept_registration_id",
    "n_children",
    "custody",
    "pregnant",
}
PERSON_LEVEL_TABLE_PREFIXES = ("fct_", "stg_", "int_", "dedup_audit", "persons")
# derived column -> the counts of the same row it is computed from: the attacker's list (tests/publish/attack.py),
# and change_persons, a difference that the attacker counts as a cell of its own. gap = recommended - received is
# also new - end, and is shown when the published cells fix it: it is checked by the attack
# (tests/publish/test_attack.py), not here.
DERIVED = {
    **ATTACKER_DERIVED,
    "mart_trends": {**ATTACKER_DERIVED["mart_trends"], "change_persons": ["persons", "previous_persons"]},
}
MARTS = list(KEYS)


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select table_name from information_schema.tables order by 1").fetchall()]


def test_every_table_is_published_in_schema_main(published: duckdb.DuckDBPyConnection) -> None:
    schemas = {
        r[0] for r in published.execute("select distinct table_schema from information_schema.tables").fetchall()
    }
    assert schemas == {"main"}
    tables = set(_tables(published))
    expected = {*MARTS, "dim_municipality", "dim_county", "dim_service", "dim_agency", "dim_area"}
    assert expected | {"README", "publication_metadata", "publication_submissions", "publication_tables"} == tables


def test_no_count_from_one_to_threshold_minus_one_anywhere(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    threshold = published_default[0].suppression_threshold
    scanned = 0
    offenders = []
    for table in _tables(published):
        columns = published.execute(
            "select column_name from information_schema.columns where table_name = ? "
            "and data_type in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', "
            "'UINTEGER', 'UBIGINT')",
            [table],
        ).fetchall()
        for (column,) in columns:
            if column in NOT_PERSON_COUNTS:
                continue
            scanned += 1
            n = published.execute(
                f'select count(*) from "{table}" where "{column}" between 1 and {threshold - 1}'
            ).fetchone()[0]
            if n:
                offenders.append(f"{table}.{column}: {n} rows")
    assert scanned >= 30, "the scan should cover every count column of the marts"
    assert offenders == []


def test_the_fixture_had_small_counts_to_withhold(published_default: tuple[Settings, PublishResult]) -> None:
    settings, result = published_default
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        small = con.execute("select count(*) from marts.mart_trends where persons between 1 and 4").fetchone()[0]
    finally:
        con.close()
    assert small > 10
    assert result.stats.primary > 0 and result.stats.complementary > 0


def test_no_person_level_table_or_column(published: duckdb.DuckDBPyConnection) -> None:
    for table in _tables(published):
        assert not table.startswith(PERSON_LEVEL_TABLE_PREFIXES), table
        columns = {r[0] for r in published.execute(f'describe "{table}"').fetchall()}
        assert not columns & PERSON_LEVEL_COLUMNS, (table, columns & PERSON_LEVEL_COLUMNS)


def test_shown_cells_equal_the_warehouse_and_withheld_cells_are_null(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    settings, _ = published_default
    published.execute(f"attach '{settings.warehouse}' as wh (read_only)")
    try:
        for table in MARTS:
            source_columns = [r[0] for r in published.execute(f"describe wh.marts.{table}").fetchall()]
            on = " and ".join(f"p.{k} is not distinct from w.{k}" for k in KEYS[table])
            n_source = published.execute(f"select count(*) from wh.marts.{table}").fetchone()[0]
            n_published = published.execute(f"select count(*) from {table}").fetchone()[0]
            assert n_source == n_published, table
            published_columns = {r[0] for r in published.execute(f"describe {table}").fetchall()}
            flags = []
            for column in source_columns:
                if column in KEYS[table]:
                    continue
                flag = f"{column}_withheld"
                withheld = f"p.{flag}" if flag in published_columns else "false"
                flags += [flag] if flag in published_columns else []
                bad = published.execute(
                    f"""
                    select count(*) from {table} p join wh.marts.{table} w on {on}
                    where case when {withheld} then p.{column} is not null
                               else p.{column} is distinct from w.{column} end
                    """
                ).fetchone()[0]
                assert bad == 0, f"{table}.{column}: {bad} rows differ from the warehouse or are not null"
            assert flags, table
            counted = " + ".join(f"{flag}::integer" for flag in flags)
            mismatch = published.execute(f"select count(*) from {table} where withheld_cells != {counted}").fetchone()
            assert mismatch[0] == 0, table
    finally:
        published.execute("detach wh")


def test_zero_is_shown_as_zero(published: duckdb.DuckDBPyConnection) -> None:
    zeros = published.execute("select count(*) from mart_living_conditions where persons = 0").fetchone()[0]
    withheld_zeros = published.execute(
        "select count(*) from mart_living_conditions where persons is null and withheld_cells > 0"
    ).fetchone()[0]
    assert zeros > 100
    assert withheld_zeros >= 0


def test_rates_shares_and_means_of_withheld_counts_are_withheld(published: duckdb.DuckDBPyConnection) -> None:
    checked = 0
    for table, derived in DERIVED.items():
        for column, sources in derived.items():
            any_withheld = " or ".join(f"{s}_withheld" for s in sources)
            bad = published.execute(
                f"select count(*) from {table} where ({any_withheld}) and {column} is not null"
            ).fetchone()[0]
            assert bad == 0, f"{table}.{column} shown although a source is withheld in {bad} rows"
            checked += published.execute(f"select count(*) from {table} where {any_withheld}").fetchone()[0]
    assert checked > 100
    # previous-year 18+ rate: withheld when the previous mapping's persons_18plus is withheld
    bad = published.execute(
        """
        select count(*) from mart_trends cur join mart_trends prev
            on cur.geo_level = prev.geo_level and cur.geo_code = prev.geo_code
            and cur.user_group = prev.user_group and cur.previous_mapping_year = prev.mapping_year
        where prev.persons_18plus is null and cur.previous_rate_per_1000_18plus is not null
        """
    ).fetchone()[0]
    assert bad == 0


def test_metadata_describes_the_publication(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    settings, result = published_default
    row = published.execute(
        "select publication_id, published_at, submissions_included, suppression_threshold, storage_version, "
        "duckdb_version, dbt_core_version, brukerplan_version from publication_metadata"
    ).fetchall()
    assert len(row) == 1
    publication_id, published_at, submissions, threshold, storage, duckdb_version, dbt_version, ours = row[0]
    assert publication_id == result.publication_id
    assert published_at is not None
    warehouse = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        expected = warehouse.execute("select count(distinct submission_id) from marts.mart_data_quality").fetchone()
    finally:
        warehouse.close()
    assert expected is not None and submissions == expected[0] > 0
    assert threshold == settings.suppression_threshold == 5
    assert storage == "v1.4.0"
    assert duckdb_version == duckdb.__version__ and dbt_version and ours
    for table, rows in published.execute("select table_name, row_count from publication_tables").fetchall():
        assert published.execute(f'select count(*) from "{table}"').fetchone()[0] == rows, table


def test_parquet_copies_match_the_duckdb_tables(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    settings, result = published_default
    assert result.parquet_dir == settings.published.with_name("brukerplan_parquet")
    assert result.parquet_dir.is_dir() and not result.parquet_dir.is_symlink()
    files = sorted(p.stem for p in result.parquet_dir.glob("*.parquet"))
    assert files == sorted(_tables(published))
    for table in files:
        path = result.parquet_dir / f"{table}.parquet"
        diff = published.execute(
            f"select count(*) from ((from '{path}' except all from \"{table}\") "
            f"union all (from \"{table}\" except all from '{path}'))"
        ).fetchone()[0]
        assert diff == 0, table
