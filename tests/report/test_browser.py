"""Headless Chromium opens the index and three municipality pages (one that mapped every year, one every
second year, one merged in 2020, picked from the published file), and a page with the guide "Hva tallene kan
bety" and the partial-coverage notice (Trondheim 2016, only Klæbu mapped), with no console error and no request
that leaves the disk; screenshots are kept in build/test-artefacts/report/ (issue 9 and issue 14, "Done when")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from brukerplan.report import build_reports
from brukerplan.report.browser import Chromium, find_chromium
from tests.report.conftest import ARTEFACTS, ReportRun
from tests.report.pages import open_offline, pick_municipalities

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def guide_page(report_run: ReportRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trondheim's page for 2016 (HTML only): only Klæbu mapped, and its housing is mostly red."""
    root = tmp_path_factory.mktemp("guide_page")
    with open(root / "console.txt", "w", encoding="utf-8") as log:
        build_reports(report_run.settings, Console(file=log), codes=["5001"], year=2016, out=root, pdf=False)
    return root / "pages" / "municipality-5001.html"


def test_pages_open_in_chromium_without_errors(report_run: ReportRun, guide_page: Path) -> None:
    assert find_chromium() is not None, "Chromium is needed: `apt-get install chromium` (make setup does it as root)"
    picks = pick_municipalities(report_run.published)
    pages = {"index": report_run.out / "index.html"}
    pages |= {kind: report_run.out / "pages" / f"municipality-{code}.html" for kind, code in picks.items()}
    pages["guide_partial_2016"] = guide_page
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
                # every municipality page ends with the guide and its checklist
                assert tab.evaluate("document.querySelectorAll('#guide ol.checklist li').length") == 6
        # the guide page: a finding naming its rule, with the figures that triggered it; the notice
        tab.open(guide_page.resolve().as_uri())
        rules = tab.evaluate("Array.from(document.querySelectorAll('#guide .finding')).map(f => f.dataset.rule)")
        assert "housing_first" in rules, rules
        assert tab.evaluate("document.querySelectorAll('#guide .finding .fig[data-value]').length") >= 6
        notice = tab.evaluate("document.querySelector('.notice.partial-coverage').innerText")
        assert "Delvis kartlagt i 2016" in notice and "Klæbu" in notice
        assert tab.evaluate("document.querySelectorAll('svg.chart rect.partial').length") == 8  # 2016, 2017
        tab.open((report_run.out / "pages" / "municipality-5001.html").resolve().as_uri())
        # today's Trondheim in 2024: the partly mapped years marked in its trend table
        notes = tab.evaluate("Array.from(document.querySelectorAll('table.trend .partial')).map(s => s.innerText)")
        assert notes == ["delvis kartlagt: Klæbu", "delvis kartlagt: Trondheim"], notes
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
    assert len(list(ARTEFACTS.glob("*.png"))) == 5


def test_every_page_has_a_pdf(report_run: ReportRun) -> None:
    pages = sorted(p.stem for p in (report_run.out / "pages").glob("*.html"))
    pdfs = sorted(p.stem for p in (report_run.out / "pdf").glob("*.pdf"))
    assert pdfs == pages
    for pdf in (report_run.out / "pdf").glob("*.pdf"):
        head = pdf.read_bytes()[:5]
        assert head == b"%PDF-", pdf
    assert report_run.result.pdf_errors == []
    assert not list(report_run.out.glob(".staging-*")), "the staging folder must be gone"
