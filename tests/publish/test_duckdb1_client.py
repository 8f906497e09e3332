"""BI connectors lag behind DuckDB 2: the published file must open in a DuckDB 1.4 client. A separate small
virtual environment with duckdb 1.4.x (created once, cached in .venv-duckdb1, git-ignored) opens the file
read-only and reads every table."""

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
from brukerplan.settings import PROJECT_DIR
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

pytestmark = pytest.mark.slow

DUCKDB_1 = "1.4.5"  # the newest 1.4.x on PyPI when this was written
VENV = PROJECT_DIR / ".venv-duckdb1"

READER = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {"version": duckdb.__version__, "tables": {}}
for (name,) in con.execute("select table_name from information_schema.tables order by 1").fetchall():
    rows = con.execute(f'select * from "{name}"').fetchall()
    out["tables"][name] = len(rows)
out["threshold"] = con.execute("select suppression_threshold from publication_metadata").fetchone()[0]
print(json.dumps(out))
"""


def duckdb1_python() -> Path:
    """The interpreter of the DuckDB 1.4 environment, created on first use (a lock serialises test workers)."""
    python = VENV / "bin" / "python"
    lock_path = PROJECT_DIR / ".venv-duckdb1.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        check = [str(python), "-c", f"import duckdb, sys; sys.exit(duckdb.__version__ != '{DUCKDB_1}')"]
        if not python.exists() or subprocess.run(check, capture_output=True).returncode != 0:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"duckdb=={DUCKDB_1}"],
                check=True,
            )
    return python


def test_a_duckdb_1_4_client_reads_every_table(tmp_path: Path) -> None:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, FixtureShape(seed=5, max_persons=20, years=(2021,), municipalities=("5001",)))
    publish(settings)
    python = duckdb1_python()
    done = subprocess.run(
        [str(python), "-c", READER, str(settings.published)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["version"].startswith("1.4.")
    con = duckdb.connect(str(settings.published), read_only=True)
    expected = {name: n for name, n in con.execute("select table_name, row_count from publication_tables").fetchall()}
    con.close()
    assert seen["tables"] == expected
    assert seen["threshold"] == 5
    assert sys.version_info >= (3, 11)


def test_a_default_duckdb_2_file_would_not_open_in_1_4(tmp_path: Path) -> None:
    """The check is able to fail: a file written with DuckDB 2's default storage version is refused."""
    path = tmp_path / "default.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select 1 as x")
    con.close()
    python = duckdb1_python()
    done = subprocess.run([str(python), "-c", READER, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
