"""Fixtures of the publish tests: small warehouses built directly (tests/publish/warehouse_fixture.py) and
their published files, shared per module where the tests only read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from brukerplan.publish import PublishResult, publish
from brukerplan.publish.equations import literal
from brukerplan.settings import Settings
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

# A description with the characters that SQL and Parquet metadata must carry through unchanged
AWKWARD_DESCRIPTION = 'Persons (it\'s "quoted"),\nover two lines; 100 % $dbt_comment$ æøå.'


def describe_like_persist_docs(warehouse: Path) -> None:
    """COMMENT ON every table and column of the fixture's marts and core, as dbt's persist_docs writes the dbt
    YAML into a real warehouse; mart_trends.persons gets AWKWARD_DESCRIPTION."""
    con = duckdb.connect(str(warehouse))
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'core')"
        ).fetchall()
        for schema, table in tables:
            con.execute(f"comment on table {schema}.{table} is {literal(f'Fixture table {schema}.{table}.')}")
            for (column,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ?", [schema, table]
            ).fetchall():
                text = f"Fixture column {table}.{column}."
                if (table, column) == ("mart_trends", "persons"):
                    text = AWKWARD_DESCRIPTION
                con.execute(f"comment on column {schema}.{table}.{column} is {literal(text)}")
    finally:
        con.close()


def build_and_publish(
    root: Path, shape: FixtureShape, threshold: int = 5, **options: object
) -> tuple[Settings, PublishResult]:
    """The fixture warehouse, described as dbt describes a real one, and its publication."""
    settings = settings_under(root, suppression_threshold=threshold)
    make_warehouse(settings.warehouse, shape)
    describe_like_persist_docs(settings.warehouse)
    result = publish(settings, **options)  # type: ignore[arg-type]
    assert result.stats.audit_complete
    return settings, result


@pytest.fixture(scope="module")
def published_default(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, PublishResult]:
    """The default fixture shape (10 municipalities in 3 counties, 3 years, up to 40 persons each)."""
    return build_and_publish(tmp_path_factory.mktemp("pub_default"), FixtureShape())


@pytest.fixture(scope="module")
def published(published_default: tuple[Settings, PublishResult]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection on the default fixture's published file."""
    settings, _ = published_default
    con = duckdb.connect(str(settings.published), read_only=True)
    yield con
    con.close()
