"""The published file explains itself (issue 15, docs/publishing.md): every table and column has a description
(COMMENT ON, and the same in the Parquet copies' key-value metadata), counts are BIGINT or INTEGER (never
HUGEINT or DOUBLE, in the file and in the Parquet copies), each withheld cell has a true NOT NULL flag
`<column>_withheld` and no other NULL has one, `mapping_date` sits beside `mapping_year`, the metadata has plain
types, and a README table says how to read it all."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from brukerplan.publish import PublishError, PublishResult, publish
from brukerplan.settings import Settings
from tests.publish.attack import COUNTS, KEYS
from tests.publish.conftest import AWKWARD_DESCRIPTION, build_and_publish
from tests.publish.test_published_content import NOT_PERSON_COUNTS
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

pytestmark = pytest.mark.slow

MARTS = list(KEYS)
TINY = FixtureShape(seed=5, max_persons=20, years=(2020, 2021), municipalities=("5001", "5006", "1505"))
NESTED = ("[]", "STRUCT", "MAP", "UNION")


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, str | None]]:
    """(column, type, comment) of a table of the file (con opened on it, or `from` a Parquet file's DESCRIBE)."""
    return con.execute(
        "select column_name, data_type, comment from duckdb_columns() where database_name = current_database() "
        "and table_name = ? order by column_index",
        [table],
    ).fetchall()


def is_count(table: str, column: str) -> bool:
    """Whether a published column is a count (the attacker's list of the marts' counts, and the other integer
    columns of test_published_content)."""
    counts = COUNTS.get(table, [])
    by_rule = re.fullmatch(r"rejected_r\d+", column) is not None and "rejected_r*" in counts
    return column in NOT_PERSON_COUNTS or column in counts or by_rule


def test_every_table_and_column_has_a_description(published: duckdb.DuckDBPyConnection) -> None:
    tables = published.execute(
        "select table_name, comment from duckdb_tables() where database_name = current_database()"
    ).fetchall()
    assert len(tables) == 15
    assert [t for t, comment in tables if not (comment or "").strip()] == []
    undescribed = published.execute(
        "select table_name || '.' || column_name from duckdb_columns() where database_name = current_database() "
        "and trim(coalesce(comment, '')) = ''"
    ).fetchall()
    assert undescribed == []
    assert (
        published.execute("select count(*) from duckdb_columns() where database_name = current_database()").fetchone()[
            0
        ]
        > 250
    )


def test_descriptions_come_from_the_warehouse_and_the_publish_package(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    comments = {(t, c): comment for t in _tables(published) for c, _, comment in _columns(published, t)}
    # the warehouse's (dbt's) description, carried through unchanged, with the note of the flag
    assert comments[("mart_trends", "persons")].startswith(AWKWARD_DESCRIPTION)
    assert "persons_withheld" in comments[("mart_trends", "persons")]
    assert comments[("mart_trends", "geo_code")] == "Fixture column mart_trends.geo_code."
    assert comments[("dim_county", "county_code")] == "Fixture column dim_county.county_code."
    table_comment = published.execute(
        "select comment from duckdb_tables() where database_name = current_database() and table_name = 'mart_housing'"
    ).fetchone()[0]
    assert table_comment == "Fixture table marts.mart_housing."
    # what publish adds: from its own descriptions, one text per kind, naming the measure
    assert "1 January" in comments[("mart_services", "mapping_date")]
    assert comments[("mart_services", "status_new_withheld")].startswith("True when status_new of this row")
    assert comments[("mart_housing", "withheld_cells")] == comments[("mart_trends", "withheld_cells")]
    assert "UTC" in comments[("publication_metadata", "published_at")]


def test_parquet_copies_carry_the_same_descriptions(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    _, result = published_default
    checked = 0
    for table in _tables(published):
        path = result.parquet_dir / f"{table}.parquet"
        kv = {
            key.decode(): value.decode()
            for key, value in published.execute(f"select key, value from parquet_kv_metadata('{path}')").fetchall()
        }
        assert kv["table"] == table and kv["publication_id"] == result.publication_id
        comment = published.execute(
            "select comment from duckdb_tables() where database_name = current_database() and table_name = ?", [table]
        ).fetchone()[0]
        assert kv["description"] == comment
        for column, _, text in _columns(published, table):
            assert kv[f"description:{column}"] == text, (table, column)
            checked += 1
    assert checked > 250


def _parquet_types(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"describe select * from '{path}'").fetchall()}


def test_counts_are_bigint_or_integer_in_the_file_and_the_parquet_copies(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    _, result = published_default
    counts = 0
    for table in _tables(published):
        parquet = _parquet_types(published, result.parquet_dir / f"{table}.parquet")
        for column, data_type, _ in _columns(published, table):
            assert parquet[column] == data_type, (table, column)
            assert "HUGEINT" not in data_type, (table, column)
            if is_count(table, column):
                assert data_type in ("BIGINT", "INTEGER"), (table, column, data_type)
                counts += 1
    assert counts > 60


def test_hugeint_and_whole_double_counts_of_the_warehouse_are_published_as_bigint(tmp_path: Path) -> None:
    """dbt's sum() makes HUGEINT counts (pandas and BI tools read them as floats): the file gets BIGINT, with the
    warehouse's values."""
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, TINY)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("alter table marts.mart_trends alter men type hugeint")
    con.execute("alter table marts.mart_trends alter population_16plus type hugeint")
    con.execute("alter table marts.mart_housing alter housing_red type double")
    con.close()
    result = publish(settings)
    out = duckdb.connect(str(settings.published), read_only=True)
    try:
        types = {(t, c): d for t in ("mart_trends", "mart_housing") for c, d, _ in _columns(out, t)}
        parquet = _parquet_types(out, result.parquet_dir / "mart_housing.parquet")
        out.execute(f"attach '{settings.warehouse}' as wh (read_only)")
        differ, shown = out.execute(
            """
            select count(*) filter (where p.men is distinct from w.men and not p.men_withheld
                                    or p.population_16plus != w.population_16plus),
                   count(p.population_16plus) filter (where p.population_16plus > 0)
            from mart_trends p join wh.marts.mart_trends w using (geo_level, geo_code, mapping_year, user_group)
            """
        ).fetchone()
    finally:
        out.close()
    assert types[("mart_trends", "men")] == types[("mart_trends", "population_16plus")] == "BIGINT"
    assert types[("mart_housing", "housing_red")] == parquet["housing_red"] == "BIGINT"
    assert differ == 0 and shown > 0


def test_a_count_that_is_not_a_whole_number_stops_publish(tmp_path: Path) -> None:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, TINY)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("alter table marts.mart_housing alter housing_red type double")
    con.execute("update marts.mart_housing set housing_red = housing_red + 0.5 where geo_code = 'NO'")
    con.close()
    with pytest.raises(PublishError, match=r"marts\.mart_housing\.housing_red .* not a whole number"):
        publish(settings)
    assert not settings.published.exists()


def test_withheld_flags_agree_with_the_nulls_exactly(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    settings, _ = published_default
    published.execute(f"attach '{settings.warehouse}' as wh (read_only)")
    withheld = structural = 0
    try:
        for table in MARTS:
            columns = [c for c, _, _ in _columns(published, table)]
            flags = [c for c in columns if c.endswith("_withheld")]
            assert flags, table
            on = " and ".join(f"p.{k} is not distinct from w.{k}" for k in KEYS[table])
            for flag in flags:
                column = flag.removesuffix("_withheld")
                assert column in columns, (table, flag)
                nulls, wrong, unexplained, true, bare = published.execute(
                    f"""
                    select count(*) filter (where p.{flag} is null),
                        count(*) filter (where p.{flag} and p.{column} is not null),
                        count(*) filter (where not p.{flag} and p.{column} is null and w.{column} is not null),
                        count(*) filter (where p.{flag}),
                        count(*) filter (where not p.{flag} and p.{column} is null)
                    from {table} p join wh.marts.{table} w on {on}
                    """
                ).fetchone()
                assert (nulls, wrong, unexplained) == (0, 0, 0), (table, flag, nulls, wrong, unexplained)
                withheld += true
                structural += bare
    finally:
        published.execute("detach wh")
    assert withheld > 100 and structural > 0  # both kinds of NULL occur in the fixture


def test_mapping_date_is_the_first_of_january_beside_mapping_year(published: duckdb.DuckDBPyConnection) -> None:
    for table in MARTS:
        columns = [(c, d) for c, d, _ in _columns(published, table)]
        names = [c for c, _ in columns]
        at = names.index("mapping_year")
        assert columns[at + 1] == ("mapping_date", "DATE"), table
        wrong = published.execute(
            f"select count(*) from {table} where mapping_date != make_date(mapping_year, 1, 1) or mapping_date is null"
        ).fetchone()[0]
        assert wrong == 0, table
    for dim in ("dim_municipality", "dim_county", "dim_service", "dim_agency", "dim_area"):
        assert "mapping_date" not in [c for c, _, _ in _columns(published, dim)]


def test_metadata_has_plain_types_and_lists_the_submissions(
    published: duckdb.DuckDBPyConnection, published_default: tuple[Settings, PublishResult]
) -> None:
    settings, result = published_default
    nested = [
        (t, c, d) for t in _tables(published) for c, d, _ in _columns(published, t) if any(n in d for n in NESTED)
    ]
    assert nested == []
    types = {c: d for c, d, _ in _columns(published, "publication_metadata")}
    assert types["published_at"] == types["dbt_build_generated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert "submission_ids" not in types
    published_at, built_at, included = published.execute(
        "select published_at, dbt_build_generated_at, submissions_included from publication_metadata"
    ).fetchone()
    assert published_at.tzinfo is not None and built_at is not None and built_at.tzinfo is not None
    assert abs(dt.datetime.now(dt.UTC) - published_at) < dt.timedelta(hours=1)
    listed = published.execute("select submission_id, publication_id from publication_submissions").fetchall()
    warehouse = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        expected = warehouse.execute("select distinct submission_id from marts.mart_data_quality").fetchall()
    finally:
        warehouse.close()
    assert sorted(s for s, _ in listed) == sorted(s for (s,) in expected)
    assert len(listed) == included > 0
    assert {p for _, p in listed} == {result.publication_id}


def test_the_readme_table_explains_tables_threshold_nulls_and_sums(published: duckdb.DuckDBPyConnection) -> None:
    rows = published.execute('select sort_order, topic, text from "README" order by sort_order').fetchall()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    text = {topic: body for _, topic, body in rows}
    assert set(_tables(published)) - {"README"} <= set(text)
    assert {"about", "threshold", "null", "sums", "gaps", "time", "versions"} <= set(text)
    assert "from 1 to 4" in text["threshold"] and "Zero is shown" in text["threshold"]
    assert "_withheld" in text["null"] and "structural" in text["null"].lower()
    assert "sum()" in text["sums"] and "withheld" in text["sums"]
    assert all(body.strip() for body in text.values())


def test_a_warehouse_without_descriptions_is_published_with_a_warning_naming_them(tmp_path: Path) -> None:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, TINY)  # no COMMENT ON: as a warehouse built without persist_docs
    result = publish(settings)
    undescribed = [w for w in result.warnings if "no description" in w]
    assert len(undescribed) == 1
    assert "mart_trends" in undescribed[0] and "persist_docs" in undescribed[0]


def test_a_higher_threshold_is_what_the_readme_says(tmp_path: Path) -> None:
    settings, _ = build_and_publish(tmp_path, TINY, threshold=8)
    con = duckdb.connect(str(settings.published), read_only=True)
    try:
        threshold = con.execute("""select text from "README" where topic = 'threshold'""").fetchone()[0]
    finally:
        con.close()
    assert "threshold 8" in threshold and "from 1 to 7" in threshold
