"""Shared fixtures. Every test that touches a warehouse, landing zone or published file gets its own
temporary directories: nothing here reads or writes the developer's data/, warehouse/ or published/."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.dbt_runner import DbtOutcome, run_dbt
from tests.support import settings_under

SHARED_DIR = PROJECT_DIR.parent / "shared"


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
