"""The published file of a real dbt build (the session `chain` of tests/conftest.py: synth, ingest, dbt run with
persist_docs from dbt_project.yml): every table and column carries the dbt description with its doc blocks
rendered, and the counts are BIGINT or INTEGER in the file and in the Parquet copies whatever types the marts
have (dbt's sum() gives HUGEINT; the cast itself is tested on a fixture in test_self_describing.py)."""

from __future__ import annotations

import re

import duckdb
import pytest

from brukerplan.publish import PublishResult, publish
from brukerplan.settings import Settings
from tests.conftest import ChainRun
from tests.publish.test_self_describing import is_count
from tests.support import settings_under

pytestmark = pytest.mark.slow

UNRENDERED = re.compile(r"\{\{|\{%|doc\(")


@pytest.fixture(scope="module")
def real(chain: ChainRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, PublishResult]:
    settings = settings_under(tmp_path_factory.mktemp("real_publish"), warehouse=chain.settings.warehouse)
    # the chain runs `dbt run` and `dbt test` (not `build`), so the build gate is not what is tested here
    return settings, publish(settings, require_green_build=False)


def _described(con: duckdb.DuckDBPyConnection, catalog: str, schemas: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """(table, column) -> comment; column '' for the table itself."""
    where = f"database_name = '{catalog}' and schema_name in ({', '.join(repr(s) for s in schemas)})"
    tables = con.execute(f"select table_name, '', comment from duckdb_tables() where {where}").fetchall()
    columns = con.execute(f"select table_name, column_name, comment from duckdb_columns() where {where}").fetchall()
    return {(t, c): comment for t, c, comment in [*tables, *columns]}


def test_every_table_and_column_has_the_rendered_dbt_description(real: tuple[Settings, PublishResult]) -> None:
    settings, _ = real
    con = duckdb.connect(str(settings.published), read_only=True)
    try:
        con.execute(f"attach '{settings.warehouse}' as wh (read_only)")
        published = _described(con, "brukerplan", ("main",))
        warehouse = _described(con, "wh", ("marts", "core"))
    finally:
        con.close()
    assert len(published) > 250
    assert [k for k, text in published.items() if not (text or "").strip()] == []
    assert [k for k, text in published.items() if UNRENDERED.search(text)] == []
    from_dbt = [(t, c) for (t, c) in published if (t, c) in warehouse]
    assert len(from_dbt) > 150
    for key in from_dbt:
        assert published[key].startswith(warehouse[key].strip()), key


def test_counts_of_the_real_marts_are_bigint_in_the_file_and_the_parquet_copies(
    real: tuple[Settings, PublishResult],
) -> None:
    settings, result = real
    con = duckdb.connect(str(settings.published), read_only=True)
    try:
        types = con.execute(
            "select table_name, column_name, data_type from duckdb_columns() where database_name = 'brukerplan'"
        ).fetchall()
        parquet = {
            (t, c): d
            for t in {t for t, _, _ in types}
            for c, d, *_ in con.execute(f"describe select * from '{result.parquet_dir / f'{t}.parquet'}'").fetchall()
        }
    finally:
        con.close()
    wrong = []
    counted = 0
    for table, column, data_type in types:
        assert parquet[(table, column)] == data_type, (table, column)
        if is_count(table, column):
            counted += 1
            if data_type not in ("BIGINT", "INTEGER"):
                wrong.append((table, column, data_type))
        elif data_type in ("HUGEINT", "UHUGEINT"):
            wrong.append((table, column, data_type))
    assert wrong == []
    assert counted > 60
