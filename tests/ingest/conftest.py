"""Fixtures for the ingest tests: one real great-expectations validator per test worker (the import costs
~5 s), and a helper that runs an ingest into the test's temporary landing zone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from brukerplan.codes import load_codebook
from brukerplan.ingest.pipeline import Ingestor, RunResult
from brukerplan.ingest.validation import GxValidator, Validator
from brukerplan.settings import Settings


@pytest.fixture(scope="session")
def gx_validator() -> GxValidator:
    return GxValidator(load_codebook())


@pytest.fixture
def run_ingest(tmp_settings: Settings, gx_validator: GxValidator) -> Callable[..., RunResult]:
    def run(paths: Sequence[Path], settings: Settings | None = None, validator: Validator | None = None) -> RunResult:
        ingestor = Ingestor(settings or tmp_settings, validator=validator or gx_validator)
        return ingestor.run(list(paths), lock_timeout=30)

    return run


@pytest.fixture
def extracts(tmp_path: Path) -> Path:
    folder = tmp_path / "extracts"
    folder.mkdir()
    return folder


def read_landed(landing: Path, table: str = "registrations") -> list[dict]:
    """Rows of every partition that has a submission record, as a reader that follows the rules sees them."""
    records = {p.stem for p in (landing / "submissions").glob("*.json")}
    rows: list[dict] = []
    for part in sorted((landing / table).glob("year=*/submission_id=*/part-0.parquet")):
        if part.parent.name.split("=", 1)[1] in records:
            rows += pq.read_table(part).to_pylist()
    return rows
