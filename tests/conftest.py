"""Shared fixtures. Every test that touches a warehouse, landing zone or published file gets its own
temporary directories: nothing here reads or writes the developer's data/, warehouse/ or published/.

`chain` is the whole chain on generated data, built once per test run (shared by the pytest-xdist workers):
synth -> ingest -> dbt seed and run -> the dbt tests of the core and the marts -> the analyses compiled. The
mart tests (tests/marts) and the end-to-end tests (tests/core/test_end_to_end.py) read it. Scale and years come
from the environment, so the issue's "default run" can be checked with the same tests:

    BRUKERPLAN_TEST_SCALE=1.0 BRUKERPLAN_TEST_YEARS=2013-2024 .venv/bin/pytest tests/marts tests/core

The defaults (small scale, two years: layouts v2 and v3, a previous and a next mapping) keep the suite fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.dbt_runner import DbtOutcome, run_dbt
from tests.support import CORE_SELECTION, MART_SELECTION, built_once, run_cli, settings_under

SHARED_DIR = PROJECT_DIR.parent / "shared"

DEFAULT_SCALE = "0.02"
DEFAULT_YEARS = "2019-2020"


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings whose every path lies under this test's temporary directory."""
    return settings_under(tmp_path)


@pytest.fixture
def dbt(tmp_settings: Settings, tmp_path: Path) -> Callable[..., DbtOutcome]:
    """Run dbt in-process against the temporary warehouse, with temporary target and log paths."""

    def invoke(args: Sequence[str], settings: Settings | None = None) -> DbtOutcome:
        return run_dbt(
            list(args),
            settings or tmp_settings,
            target_path=tmp_path / "dbt_target",
            log_path=tmp_path / "dbt_logs",
        )

    return invoke


@dataclass(frozen=True)
class ChainRun:
    root: Path
    truth: Path
    settings: Settings
    core_tests: DbtOutcome  # the dbt tests of staging, rules 1-6 and core (CORE_SELECTION)
    mart_tests: DbtOutcome  # the data, unit and singular tests of the marts (MART_SELECTION)
    unit_tests: DbtOutcome  # every dbt unit test (`brukerplan build` leaves them out, docs/decisions.md W3)
    analyses: DbtOutcome  # dbt compile of analyses/
    compiled_analyses: Path
    scale: float
    years: str


def _build_chain(root: Path, scale: float, years: str) -> dict[str, dict]:
    """synth -> ingest -> dbt seed/run/test/compile into `root`; returns the dbt outcomes as plain data."""
    settings = settings_under(root)
    synth = run_cli("synth", "--out", str(root / "synth"), "--scale", str(scale), "--years", years)
    assert synth.returncode == 0, synth.stdout + synth.stderr
    ingest = run_cli("ingest", str(root / "synth" / "extracts"), "--landing", str(settings.landing))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    dbt_paths = {"target_path": root / "dbt_target", "log_path": root / "dbt_logs"}
    for step in (["seed"], ["run"]):
        outcome = run_dbt(step, settings, **dbt_paths)
        assert outcome.success, f"dbt {step[0]} failed: {outcome.failures}"
    outcomes = {
        "core_tests": run_dbt(["test", *CORE_SELECTION], settings, **dbt_paths),
        "mart_tests": run_dbt(["test", *MART_SELECTION], settings, **dbt_paths),
        "unit_tests": run_dbt(["test", "--select", "resource_type:unit_test"], settings, **dbt_paths),
        # analyses are compiled here, before any test opens the warehouse read-only
        "analyses": run_dbt(["compile", "--select", "resource_type:analysis"], settings, **dbt_paths),
    }
    return {name: {"success": o.success, "counts": o.counts, "failures": o.failures} for name, o in outcomes.items()}


def _outcome(data: dict) -> DbtOutcome:
    return DbtOutcome(success=data["success"], seconds=0.0, counts=data["counts"], failures=data["failures"])


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> ChainRun:
    """Built once per test run (shared by the pytest-xdist workers): synth/ingest/dbt never run twice."""
    scale = float(os.environ.get("BRUKERPLAN_TEST_SCALE", DEFAULT_SCALE))
    years = os.environ.get("BRUKERPLAN_TEST_YEARS", DEFAULT_YEARS)
    root, result = built_once(tmp_path_factory, "chain", lambda root: _build_chain(root, scale, years))
    return ChainRun(
        root=root,
        truth=root / "synth" / "truth",
        settings=settings_under(root),
        core_tests=_outcome(result["core_tests"]),
        mart_tests=_outcome(result["mart_tests"]),
        unit_tests=_outcome(result["unit_tests"]),
        analyses=_outcome(result["analyses"]),
        compiled_analyses=root / "dbt_target" / "compiled" / "brukerplan" / "analyses",
        scale=scale,
        years=years,
    )
