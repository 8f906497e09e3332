"""A BI tool's view of the published file (issue 15): SQLAlchemy with the duckdb-engine dialect, as Apache Superset,
Metabase's DuckDB driver and pandas use it, opened read-only. Reflection finds the schema, every table, column
types that are not UNKNOWN (counts as integers, flags as booleans, mapping_date as a date, instants as
timestamps) and every description; `pandas.read_sql` runs a GROUP BY and gets integers, not floats; nothing can
be written; a connection left open keeps its version while a new one is published, and a new connection sees
the new one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from brukerplan.publish import PublishResult, publish
from brukerplan.settings import Settings
from tests.publish.attack import KEYS
from tests.publish.conftest import describe_like_persist_docs
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

pytestmark = pytest.mark.slow

DIMENSIONS = {"dim_municipality", "dim_county", "dim_service", "dim_agency", "dim_area"}
OWN = {"README", "publication_metadata", "publication_submissions", "publication_tables"}
TINY = FixtureShape(seed=5, max_persons=20, years=(2021,), municipalities=("5001", "5006"))


def _engine(path: Path) -> sa.Engine:
    """The engine a BI tool configures: read-only; NullPool so that no connection outlives its use here."""
    return sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=NullPool)


def _duckdb_view(path: Path) -> tuple[dict[str, str], dict[tuple[str, str], tuple[str, str]], list[tuple]]:
    """What DuckDB itself says: table comments, (table, column) -> (type, comment), and the expected GROUP BY."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = dict(
            con.execute(
                "select table_name, comment from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        )
        columns = {
            (t, c): (d, comment)
            for t, c, d, comment in con.execute(
                "select table_name, column_name, data_type, comment from duckdb_columns() "
                "where database_name = current_database()"
            ).fetchall()
        }
        grouped = con.execute(
            "select geo_level, mapping_year, sum(population_16plus)::bigint, count(*) filter (where persons_withheld) "
            "from mart_trends where user_group = 'all' group by all order by all"
        ).fetchall()
    finally:
        con.close()
    return tables, columns, grouped


@pytest.fixture(scope="module")
def bi_engine(published_default: tuple[Settings, PublishResult]) -> Iterator[tuple[Path, sa.Engine]]:
    settings, _ = published_default
    engine = _engine(settings.published)
    yield settings.published, engine
    engine.dispose()


def test_reflection_sees_the_schema_tables_types_and_descriptions(bi_engine: tuple[Path, sa.Engine]) -> None:
    path, engine = bi_engine
    tables, columns, _ = _duckdb_view(path)
    inspector = sa.inspect(engine)
    assert f"{path.stem}.main" in inspector.get_schema_names()  # duckdb-engine names schemas catalog.schema
    assert set(inspector.get_table_names()) == set(KEYS) | DIMENSIONS | OWN == set(tables)
    reflected = 0
    for table in tables:
        assert inspector.get_table_comment(table)["text"] == tables[table]
        for column in inspector.get_columns(table):
            data_type, comment = columns[(table, column["name"])]
            assert column["comment"] == comment and comment, (table, column["name"])
            assert not isinstance(column["type"], sa.types.NullType), (table, column["name"], data_type)
            reflected += 1
    assert reflected == len(columns)
    trends = {c["name"]: c["type"] for c in inspector.get_columns("mart_trends")}
    assert isinstance(trends["persons"], sa.BigInteger) and isinstance(trends["previous_persons"], sa.BigInteger)
    assert isinstance(trends["mapping_year"], sa.Integer) and isinstance(trends["withheld_cells"], sa.Integer)
    assert isinstance(trends["persons_withheld"], sa.Boolean)
    assert isinstance(trends["mapping_date"], sa.Date)
    assert isinstance(trends["mean_age"], sa.Float)
    metadata = {c["name"]: c["type"] for c in inspector.get_columns("publication_metadata")}
    assert isinstance(metadata["published_at"], sa.DateTime)
    assert isinstance(metadata["dbt_build_generated_at"], sa.DateTime)


def test_pandas_read_sql_group_by_gives_integers(bi_engine: tuple[Path, sa.Engine]) -> None:
    path, engine = bi_engine
    _, _, expected = _duckdb_view(path)
    query = sa.text(
        "select geo_level, mapping_year, sum(population_16plus)::bigint as population, "
        "count(*) filter (where persons_withheld) as rows_withheld "
        "from mart_trends where user_group = 'all' group by all order by all"
    )
    with engine.connect() as conn:
        grouped = pd.read_sql(query, conn)
        rows = pd.read_sql(sa.text("select persons, mapping_date from mart_trends"), conn, dtype_backend="pyarrow")
    assert [tuple(r) for r in grouped.itertuples(index=False)] == expected
    assert len(expected) >= 3
    assert pd.api.types.is_integer_dtype(grouped["rows_withheld"])
    assert pd.api.types.is_integer_dtype(grouped["population"]) and pd.api.types.is_integer_dtype(
        grouped["mapping_year"]
    )
    assert pd.api.types.is_integer_dtype(rows["persons"])  # with NULLs: nullable integers, not floats
    assert rows["persons"].isna().sum() > 0


def test_the_connection_is_read_only(bi_engine: tuple[Path, sa.Engine]) -> None:
    _, engine = bi_engine
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        conn.execute(sa.text("create table written_by_a_bi_tool (x integer)"))


def test_an_open_connection_keeps_its_version_and_a_new_one_sees_the_next(tmp_path: Path) -> None:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, TINY)
    describe_like_persist_docs(settings.warehouse)
    first = publish(settings)
    engine = sa.create_engine(f"duckdb:///{settings.published}", connect_args={"read_only": True})
    version = sa.text("select publication_id from publication_metadata")
    try:
        with engine.connect() as held:
            assert held.execute(version).scalar() == first.publication_id
            second = publish(settings)  # the BI tool's open connection does not block publish
            assert held.execute(version).scalar() == first.publication_id
        engine.dispose()  # what a pool recycle does
        with engine.connect() as fresh:
            assert fresh.execute(version).scalar() == second.publication_id
    finally:
        engine.dispose()
