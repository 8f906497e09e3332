"""BI connectors lag behind DuckDB 2: the published file must open in a DuckDB 1.4 client. A separate small
virtual environment with duckdb 1.4.x (created once by pip, which reaches PyPI on a fresh CI machine too, and
cached under the pytest cache folder, `.pytest_cache/d/duckdb-1.4`, so reruns are quick) opens the file
read-only and reads every table, its types and its descriptions, and the Parquet copies."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import venv
from pathlib import Path

import duckdb
import pytest

from brukerplan.publish import publish
from tests.publish.conftest import describe_like_persist_docs
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

pytestmark = pytest.mark.slow

DUCKDB_1 = "1.4.5"  # the newest 1.4.x on PyPI when this was written
# duckdb 1.4's Python client needs pytz to fetch TIMESTAMP WITH TIME ZONE values (publication_metadata)
CLIENT = (f"duckdb=={DUCKDB_1}", "pytz==2026.6")

READER = """
import json, sys
import duckdb
path, parquet = sys.argv[1], sys.argv[2]
con = duckdb.connect(path, read_only=True)
out = {"version": duckdb.__version__, "tables": {}, "columns": {}, "comments": {}, "parquet": {}}
for (name, comment) in con.execute(
    "select table_name, comment from duckdb_tables() where database_name = current_database() order by 1"
).fetchall():
    out["tables"][name] = len(con.execute(f'select * from "{name}"').fetchall())
    out["comments"][name] = comment
    out["columns"][name] = con.execute(
        "select column_name, data_type, comment from duckdb_columns() where database_name = current_database() "
        "and table_name = ? order by column_index", [name]
    ).fetchall()
    out["parquet"][name] = con.execute(f"select count(*) from '{parquet}/{name}.parquet'").fetchone()[0]
out["threshold"] = con.execute("select suppression_threshold from publication_metadata").fetchone()[0]
try:
    con.execute("create table written_by_a_reader (x integer)")
    out["write"] = "allowed"
except duckdb.Error as exc:
    out["write"] = type(exc).__name__
print(json.dumps(out))
"""


def _create(target: Path) -> Path:
    python = target / "bin" / "python"
    check = [str(python), "-c", f"import duckdb, pytz, sys; sys.exit(duckdb.__version__ != '{DUCKDB_1}')"]
    if not python.exists() or subprocess.run(check, capture_output=True).returncode != 0:
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *CLIENT],
            check=True,
        )
    return python


@pytest.fixture(scope="session")
def duckdb1_python(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of the DuckDB 1.4 environment: created on first use under the pytest cache folder (a lock
    serialises the test workers), reused by later runs."""
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    folder = cache.mkdir("duckdb-1.4") if cache is not None else tmp_path_factory.getbasetemp() / "duckdb-1.4"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "create.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _create(folder / "venv")


def test_a_duckdb_1_4_client_reads_every_table_its_types_and_descriptions(tmp_path: Path, duckdb1_python: Path) -> None:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, FixtureShape(seed=5, max_persons=20, years=(2021,), municipalities=("5001",)))
    describe_like_persist_docs(settings.warehouse)
    result = publish(settings)
    done = subprocess.run(
        [str(duckdb1_python), "-c", READER, str(settings.published), str(result.parquet_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["version"] == DUCKDB_1
    con = duckdb.connect(str(settings.published), read_only=True)
    try:
        expected = dict(con.execute("select table_name, row_count from publication_tables").fetchall())
        columns = {
            table: [
                list(r)
                for r in con.execute(
                    "select column_name, data_type, comment from duckdb_columns() "
                    "where database_name = current_database() and table_name = ? order by column_index",
                    [table],
                ).fetchall()
            ]
            for table in expected
        }
    finally:
        con.close()
    assert seen["tables"] == expected == seen["parquet"]
    assert seen["columns"] == columns  # same names, types and descriptions as DuckDB 2 sees
    assert all(seen["comments"].values())
    assert seen["threshold"] == 5
    assert seen["write"] != "allowed"
    assert sys.version_info >= (3, 11)


def test_a_default_duckdb_2_file_would_not_open_in_1_4(tmp_path: Path, duckdb1_python: Path) -> None:
    """The check is able to fail: a file written with DuckDB 2's default storage version is refused."""
    path = tmp_path / "default.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select 1 as x")
    con.close()
    done = subprocess.run(
        [str(duckdb1_python), "-c", READER, str(path), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
