"""Fixtures of the publish tests: small warehouses built directly (tests/publish/warehouse_fixture.py) and
their published files, shared per module where the tests only read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from brukerplan.publish import PublishResult, publish
from brukerplan.settings import Settings
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under


def build_and_publish(
    root: Path, shape: FixtureShape, threshold: int = 5, **options: object
) -> tuple[Settings, PublishResult]:
    settings = settings_under(root, suppression_threshold=threshold)
    make_warehouse(settings.warehouse, shape)
    result = publish(settings, **options)  # type: ignore[arg-type]
    assert result.stats.audit_complete
    return settings, result


@pytest.fixture(scope="module")
def published_default(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, PublishResult]:
    """The default fixture shape (10 municipalities in 3 counties, 3 years, up to 40 persons each)."""
    return build_and_publish(tmp_path_factory.mktemp("pub_default"), FixtureShape())
