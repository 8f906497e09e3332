"""Headless Chromium opens the index and three municipality pages (one that mapped every year, one every
second year, one merged in 2020, picked from the published file), with no console error and no request that
leaves the disk; screenshots are kept in build/test-artefacts/report/ (issue 9, "Done when")."""

from __future__ import annotations

import shutil

import pytest

from brukerplan.report.browser import Chromium, find_chromium
from tests.report.conftest import ARTEFACTS, ReportRun
from tests.report.pages import open_offline, pick_municipalities

pytestmark = pytest.mark.browser


def test_pages_open_in_chromium_without_errors(report_run: ReportRun) -> None:
    assert find_chromium() is not None, "Chromium is needed: `apt-get install chromium` (make setup does it as root)"
    picks = pick_municipalities(report_run.published)
    pages = {"index": report_run.out / "index.html"}
    pages |= {kind: report_run.out / "pages" / f"municipality-{code}.html" for kind, code in picks.items()}
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    print(f"\nscreenshots: {ARTEFACTS}")
    with Chromium(window=(1200, 900)) as browser:
        tab = browser.tab()
        for kind, page in pages.items():
            open_offline(tab, page, screenshot=ARTEFACTS / f"{kind}-{page.stem}.png")
            assert tab.evaluate("document.querySelectorAll('script[src], link[rel=stylesheet]').length") == 0
            if kind != "index":
                assert tab.evaluate("document.querySelectorAll('svg.chart').length") >= 5
        # the index search filters by name and by code
        tab.open(pages["index"].resolve().as_uri())
        total = tab.evaluate("document.querySelectorAll('#geographies tbody tr').length")
        visible = (
            "(function (q) { var i = document.getElementById('search'); i.value = q;"
            " i.dispatchEvent(new Event('input'));"
            " return Array.from(document.querySelectorAll('#geographies tbody tr')).filter(r => !r.hidden)"
            ".map(r => r.cells[1].textContent); })"
        )
        assert tab.evaluate(f"{visible}('trondheim')") == ["5001"]
        assert tab.evaluate(f"{visible}('1508')") == ["1508"]
        assert tab.evaluate(f"{visible}('zzz')") == []
        assert tab.evaluate("document.getElementById('none-found').hidden") is False
        assert len(tab.evaluate(f"{visible}('')")) == total == 8
        tab.drain()
        assert tab.console_errors == []
    assert len(list(ARTEFACTS.glob("*.png"))) == 4


def test_every_page_has_a_pdf(report_run: ReportRun) -> None:
    pages = sorted(p.stem for p in (report_run.out / "pages").glob("*.html"))
    pdfs = sorted(p.stem for p in (report_run.out / "pdf").glob("*.pdf"))
    assert pdfs == pages
    for pdf in (report_run.out / "pdf").glob("*.pdf"):
        head = pdf.read_bytes()[:5]
        assert head == b"%PDF-", pdf
    assert report_run.result.pdf_errors == []
    assert not list(report_run.out.glob(".staging-*")), "the staging folder must be gone"
