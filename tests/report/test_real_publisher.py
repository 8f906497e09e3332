"""The reports on a file written by the real publisher (brukerplan.publish over the publish tests' small
warehouse, tests/publish/warehouse_fixture.py): its table and column names, its `<column>_withheld` flags and
its complementary suppression. Every printed figure is read back; every page opens without console errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from brukerplan.report import build_reports
from brukerplan.report.browser import Chromium
from tests.publish.conftest import build_and_publish
from tests.publish.warehouse_fixture import FixtureShape
from tests.report.pages import open_offline
from tests.report.readback import Published, check_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("real_publisher")
    settings, _ = build_and_publish(root, FixtureShape())
    console = Console(file=open(root / "console.txt", "w", encoding="utf-8"))  # noqa: SIM115
    result = build_reports(settings, console, out=root / "reports", pdf=False)
    console.file.close()
    assert result.pages > 0
    return settings.published, root / "reports"


def test_figures_read_back_from_the_real_published_file(real_run: tuple[Path, Path]) -> None:
    published_path, out = real_run
    published = Published(published_path)
    try:
        threshold = published.con.execute("select suppression_threshold from publication_metadata").fetchone()[0]
        pages = sorted((out / "pages").glob("*.html"))
        shown = withheld = 0
        problems: list[str] = []
        for page in pages:
            checked = check_page(page, published, threshold)
            shown += checked.shown
            withheld += checked.withheld
            problems += checked.problems
    finally:
        published.close()
    assert problems == [], "\n".join(problems[:20])
    assert shown > 100 and withheld > 100  # small counts: suppression bites on every page


@pytest.mark.browser
def test_real_pages_open_without_console_errors(real_run: tuple[Path, Path]) -> None:
    _, out = real_run
    with Chromium() as browser:
        tab = browser.tab()
        for page in [out / "index.html", *sorted((out / "pages").glob("*.html"))]:
            open_offline(tab, page)
