"""Report fixtures: a published-like file (published_fixture.py) and one report run over it, shared by the
tests of this folder (built once per test session and worker, in pytest's temporary directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from brukerplan.report import ReportResult, build_reports
from brukerplan.settings import PROJECT_DIR, Settings
from tests.report.published_fixture import make_published
from tests.support import settings_under

ARTEFACTS = PROJECT_DIR / "build" / "test-artefacts" / "report"


@dataclass(frozen=True)
class ReportRun:
    published: Path
    out: Path
    result: ReportResult
    settings: Settings


@pytest.fixture(scope="session")
def published_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("published")
    return make_published(root / "brukerplan.duckdb")


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory, published_file: Path) -> ReportRun:
    root = tmp_path_factory.mktemp("report")
    settings = settings_under(root, published=published_file)
    console = Console(file=open(root / "console.txt", "w", encoding="utf-8"), width=120)  # noqa: SIM115
    result = build_reports(settings, console, out=root / "reports")
    console.file.close()
    return ReportRun(published_file, root / "reports", result, settings)
