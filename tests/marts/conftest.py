"""The whole chain on generated data for the mart tests: synth -> ingest -> dbt (seed, run, test) into
temporary directories. Scale and years come from the environment so the issue's "default run" can be checked
with the same tests:

    BRUKERPLAN_TEST_SCALE=1.0 BRUKERPLAN_TEST_YEARS=2013-2024 .venv/bin/pytest tests/marts

The defaults (small scale, two years: layouts v2 and v3, a previous and a next mapping) keep the suite fast.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.dbt_runner import DbtOutcome, run_dbt
from tests.support import settings_under

DEFAULT_SCALE = "0.02"
DEFAULT_YEARS = "2019-2020"

# Everything the marts stage owns (models and their data and unit tests, the singular assert_mart_* tests).
MART_SELECTION = [
    "--select",
    "path:models/marts",
    "int_user_group_rollup",
    "int_geographies",
    "int_geography_rollup",
    "int_participation",
    "int_participation_geography",
    "stg_landing__quarantine",
    "assert_mart_*",
]


@dataclass(frozen=True)
class ChainRun:
    root: Path
    truth: Path
    settings: Settings
    test_outcome: DbtOutcome
    analyses_outcome: DbtOutcome
    compiled_analyses: Path
    scale: float
    years: str


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brukerplan", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def _build_chain(root: Path, scale: float, years: str) -> dict[str, object]:
    """synth -> ingest -> dbt seed/run/test/compile into `root`; returns what the tests need as plain data."""
    settings = _settings(root)
    synth = _cli("synth", "--out", str(root / "synth"), "--scale", str(scale), "--years", years)
    assert synth.returncode == 0, synth.stdout + synth.stderr
    ingest = _cli("ingest", str(root / "synth" / "extracts"), "--landing", str(settings.landing))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    dbt_paths = {"target_path": root / "dbt_target", "log_path": root / "dbt_logs"}
    for step in (["seed"], ["run"]):
        outcome = run_dbt(step, settings, **dbt_paths)
        assert outcome.success, f"dbt {step[0]} failed: {outcome.failures}"
    tests = run_dbt(["test", *MART_SELECTION], settings, **dbt_paths)
    # analyses are compiled here, before any test opens the warehouse read-only
    analyses = run_dbt(["compile", "--select", "resource_type:analysis"], settings, **dbt_paths)
    return {
        "tests": {"success": tests.success, "counts": tests.counts, "failures": tests.failures},
        "analyses": {"success": analyses.success, "counts": analyses.counts, "failures": analyses.failures},
    }


def _settings(root: Path) -> Settings:
    return settings_under(root)


def _outcome(data: dict) -> DbtOutcome:
    return DbtOutcome(success=data["success"], seconds=0.0, counts=data["counts"], failures=data["failures"])


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict]) -> tuple[Path, dict]:
    """Run `build(root)` once per test run, even under pytest-xdist: the workers share the folder (the first builds
    it under a file lock, the others wait and read its JSON result)."""
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else None
    root = (shared / name) if shared else tmp_path_factory.mktemp(name)
    root.mkdir(parents=True, exist_ok=True)
    done = root / "built.json"
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                done.write_text(json.dumps(build(root)), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root, json.loads(done.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> ChainRun:
    """Built once per test run (shared by the pytest-xdist workers): synth/ingest/dbt never run twice."""
    scale = float(os.environ.get("BRUKERPLAN_TEST_SCALE", DEFAULT_SCALE))
    years = os.environ.get("BRUKERPLAN_TEST_YEARS", DEFAULT_YEARS)
    root, result = built_once(tmp_path_factory, "marts_chain", lambda root: _build_chain(root, scale, years))
    return ChainRun(
        root=root,
        truth=root / "synth" / "truth",
        settings=_settings(root),
        test_outcome=_outcome(result["tests"]),
        analyses_outcome=_outcome(result["analyses"]),
        compiled_analyses=root / "dbt_target" / "compiled" / "brukerplan" / "analyses",
        scale=scale,
        years=years,
    )


@pytest.fixture(scope="session")
def warehouse(chain: ChainRun) -> Iterator[duckdb.DuckDBPyConnection]:
    """The built warehouse, read-only, with the ground truth and reference data as views."""
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{chain.settings.warehouse}' as brukerplan (read_only)")
    truth_files = ("persons", "housing", "living_conditions", "services", "participation", "audit_submissions")
    for name in truth_files:
        con.execute(
            f"create view truth_{name} as select * from read_csv('{chain.truth / (name + '.csv')}', "
            "header = true, types = {'municipality_code_registered': 'varchar'})"
        )
    con.execute(f"create view truth_person_year as select * from read_parquet('{chain.truth / 'person_year.parquet'}')")
    reference = PROJECT_DIR / "seeds" / "reference"
    con.execute(
        f"create view ref_population as select * from read_csv('{reference / 'population.csv'}', header = true, "
        "types = {'municipality_code': 'varchar'})"
    )
    con.execute(
        f"create view ref_map as select * from read_csv('{reference / 'municipality_map_2024.csv'}', header = true, "
        "types = {'municipality_code': 'varchar', 'code_2024': 'varchar', 'weight': 'double'})"
    )
    yield con
    con.close()
