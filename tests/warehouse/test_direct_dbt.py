"""`dbt build` run directly from a project root (docs/decisions.md W1, W2): it writes its build record into the
warehouse it ran on, so a failing test there makes publish refuse; and it fails at once, naming the process
that holds the file and `brukerplan build`, when a reader has the warehouse open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import PROJECT_DIR, Settings
from tests.support import run_cli, settings_under
from tests.warehouse.conftest import Built, copy_project, read_record

pytestmark = pytest.mark.slow

DBT = str(Path(sys.executable).with_name("dbt"))


def _dbt(project: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` from the project root, as a user runs it, with the settings in the environment."""
    return subprocess.run(
        [DBT, *args, "--profiles-dir", ".", "--target-path", str(settings.warehouse.parent / "direct_target")],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **settings.as_env(), "NO_COLOR": "1"},
        check=False,
    )


def test_a_direct_dbt_build_with_a_failing_test_makes_publish_refuse(built: Built, tmp_path: Path) -> None:
    settings = built.settings
    project = copy_project(PROJECT_DIR, tmp_path / "project")
    (project / "tests" / "dbt" / "zz_simulated_failure.sql").write_text(
        "-- fails: returns rows\nselect geo_code from {{ ref('mart_trends') }} limit 3\n", encoding="utf-8"
    )
    # a selection keeps the test short; the record and the gate treat every `dbt build` alike
    run = _dbt(project, settings, "build", "--select", "mart_trends", "zz_simulated_failure")
    assert run.returncode != 0, run.stdout
    assert "zz_simulated_failure" in run.stdout
    record = read_record(settings.warehouse)
    assert record and record.command == "build" and record.status == "not green"
    assert [f.node for f in record.failing_nodes] == ["test.brukerplan.zz_simulated_failure"]
    publish = run_cli(
        "publish",
        *("--landing", str(settings.landing), "--warehouse", str(settings.warehouse)),
        *("--published", str(tmp_path / "published" / "brukerplan.duckdb")),
    )
    text = " ".join(publish.stdout.split())
    assert publish.returncode == 1, text
    assert "was not green" in text and "test.brukerplan.zz_simulated_failure: fail" in text
    assert not (tmp_path / "published" / "brukerplan.duckdb").exists()


def test_a_direct_dbt_build_fails_at_once_naming_the_reader_and_brukerplan_build(tmp_path: Path) -> None:
    settings = settings_under(tmp_path)
    settings.warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create table analyst_sees as select 42 as answer")
    con.close()
    reader = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        run = _dbt(PROJECT_DIR, settings, "build", "--select", "stg_codes__colours")
        assert reader.execute("select answer from analyst_sees").fetchone() == (42,)
    finally:
        reader.close()
    text = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert f"PID {os.getpid()}" in text and "Run `brukerplan build` instead" in text
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    schemas = {r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()}
    con.close()
    assert "meta" not in schemas and "staging" not in schemas  # dbt wrote nothing
