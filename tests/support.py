"""Helpers shared by the test packages."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from brukerplan.codes import load_codebook
from brukerplan.settings import PROJECT_DIR, Settings

# The eight living-condition areas (levekårsområder) in code-list order (seeds/codes/areas.csv).
AREAS: tuple[str, ...] = tuple(area.code for area in load_codebook().areas)

# The dbt selection of the core area: staging, rules 1-6, core and everything upstream (no unit tests; other
# areas' models are not built).
CORE_SELECTION: tuple[str, ...] = (
    "--select",
    "+path:models/core",
    "+int_population",
    "+path:models/staging",
    "--exclude",
    "resource_type:unit_test",
    "--indirect-selection",
    "cautious",
)
# The models of rules 1-6 of warehouse.md (models/intermediate/rules/; rule 7, participation, belongs to the marts).
RULE_MODELS: tuple[str, ...] = (
    "int_current_submission",
    "int_age",
    "int_deduplication",
    "int_classification",
    "int_harmonisation",
    "int_population",
)
# Everything the marts stage owns (models and their data and unit tests, the singular assert_mart_* tests).
MART_SELECTION: tuple[str, ...] = (
    "--select",
    "path:models/marts",
    "int_user_group_rollup",
    "int_geographies",
    "int_geography_rollup",
    "int_participation",
    "int_participation_geography",
    "stg_landing__quarantine",
    "assert_mart_*",
)


def settings_under(root: Path, **overrides: object) -> Settings:
    """Settings whose every path lies under `root` (never the developer's own warehouse); overrides (another
    path or a threshold) win."""
    paths = {
        "landing": root / "landing",
        "warehouse": root / "warehouse" / "brukerplan.duckdb",
        "published": root / "published" / "brukerplan.duckdb",
        "reports": root / "reports",
        "returns": root / "returns",
    }
    return Settings.load(environ={}, **{**paths, **overrides})


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path = PROJECT_DIR, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m brukerplan ARGS` in a child process as a user runs it (wide terminal, output captured; the
    caller checks the exit status). `env` adds to the current environment."""
    return subprocess.run(
        [sys.executable, "-m", "brukerplan", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
        timeout=timeout,
    )


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict]) -> tuple[Path, dict]:
    """Run `build(root)` once per test run, even under pytest-xdist: the workers share the folder `name` (the
    first builds it under a file lock, the others wait and read its JSON result)."""
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
