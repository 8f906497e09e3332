"""A generic data test run on a probe seed: the seed and its YAML added to a copy of the project, built with
`--store-failures`, and the failing rows the test stored read back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb

from brukerplan.settings import PROJECT_DIR
from brukerplan.warehouse.dbt_runner import run_dbt
from tests.support import settings_under
from tests.warehouse.conftest import copy_project


def probe(tmp_path: Path, seed: str, csv_text: str, yaml: str, test: str, columns: str = "*") -> tuple[bool, list]:
    """Build seed `seed` (its CSV text and YAML) and its tests; whether the build passed, and the stored failing
    rows (`columns`, sorted, nulls first) of its one test whose name starts with `test`."""
    project = copy_project(PROJECT_DIR, tmp_path / "project")
    (project / "seeds" / f"{seed}.csv").write_text(csv_text, encoding="utf-8")
    (project / "seeds" / f"{seed}.yml").write_text(yaml, encoding="utf-8")
    settings = dataclasses.replace(settings_under(tmp_path), project_dir=project)
    outcome = run_dbt(["build", "--select", seed, "--store-failures"], settings)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where starts_with(table_name, ?)", [test]
        ).fetchall()
        assert len(tables) == 1, tables
        stored = con.execute(f'select {columns} from "{tables[0][0]}"."{tables[0][1]}" order by all nulls first')
        return outcome.success, stored.fetchall()
    finally:
        con.close()
