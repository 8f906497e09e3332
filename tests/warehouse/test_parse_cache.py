"""The first build of a new warehouse starts from the project's last parse (decisions W14): dbt sees every warehouse by
its file name in its own folder, the landing zone is read in macros (not in dbt_project.yml), and `run_dbt` gives a
dbt target folder without a saved parse the project's (build/dbt-parse/). dbt still checks that parse against the
project's files, so a model added since is parsed and built, and a cache it cannot read costs a whole parse only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.build import build_warehouse
from brukerplan.warehouse.dbt_runner import PARSE_FILE, ParseCache, run_dbt
from tests.compare_runs import compare_schema
from tests.conftest import ChainRun
from tests.support import settings_under
from tests.warehouse.conftest import copy_project, read_record

pytestmark = pytest.mark.slow

WHOLE_PARSE = "Unable to do partial parsing"


def _build(settings: Settings) -> str:
    """A green `brukerplan build` of `settings`; the log of its dbt invocation."""
    result = build_warehouse(settings, quiet=True)
    assert result.swapped, result.outcome.failures
    log = (settings.warehouse.parent / "dbt_logs" / "dbt.log").read_text(encoding="utf-8")
    return log.split("Running with dbt=")[-1]


def test_a_new_warehouse_starts_from_the_projects_parse(tmp_path: Path, chain: ChainRun) -> None:
    project = copy_project(PROJECT_DIR, tmp_path / "project")
    cache = ParseCache(project).path
    first = settings_under(tmp_path / "first", landing=chain.settings.landing).with_paths(project_dir=project)
    assert WHOLE_PARSE in _build(first)
    assert cache.is_file() and cache.stat().st_mode & 0o777 == 0o600

    # another warehouse, another landing zone (the same files), and a model added to the project since
    landing = shutil.copytree(chain.settings.landing, tmp_path / "other-landing")
    (project / "models" / "marts" / "zz_added_since.sql").write_text("select 1 as added\n", encoding="utf-8")
    second = settings_under(tmp_path / "second", landing=landing).with_paths(project_dir=project)
    log = _build(second)
    assert WHOLE_PARSE not in log and "Partial parsing enabled: 0 files deleted, 1 files added" in log, log[:3000]
    record = read_record(second.warehouse)
    assert record is not None and record.landing == str(landing)
    compiled = second.warehouse.parent / "dbt_target" / "compiled" / "brukerplan" / "models" / "staging" / "landing"
    assert f"'{landing}/" in (compiled / "stg_landing__registrations.sql").read_text(encoding="utf-8")
    for schema in ("core", "marts"):
        compared = compare_schema(first.warehouse, second.warehouse, schema)
        extra = [d for d in compared.differences if d != "marts.zz_added_since: only after"]
        assert compared.tables > 5 and extra == [], compared.differences
    assert "marts.zz_added_since: only after" in compare_schema(first.warehouse, second.warehouse, "marts").differences


def test_a_cache_dbt_cannot_read_costs_a_whole_parse_only(tmp_path: Path) -> None:
    project = copy_project(PROJECT_DIR, tmp_path / "project")
    cache = ParseCache(project).path
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not a saved parse")
    settings = settings_under(tmp_path / "wh").with_paths(project_dir=project)
    target = tmp_path / "target"
    outcome = run_dbt(["parse"], settings, target_path=target, log_path=tmp_path / "logs")
    assert outcome.success, outcome.failures
    assert (target / PARSE_FILE).read_bytes() != b"not a saved parse"
    assert "Failed to load parsed file from disk" in (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert cache.read_bytes() == (target / PARSE_FILE).read_bytes()  # the cache is the good parse again
