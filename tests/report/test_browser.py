"""Headless Chromium opens the index and three municipality pages (one that mapped every year, one every
second year, one merged in 2020, picked from the published file), with no console error and no request that
leaves the disk; screenshots are kept in build/test-artefacts/report/ (issue 9, "Done when")."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path

import duckdb

from brukerplan.report.browser import Chromium, find_chromium
from tests.report.conftest import ARTEFACTS, ReportRun


def pick_municipalities(published: Path) -> dict[str, str]:
    """every_year / every_second_year / merged_2020 municipality codes, from the published file."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        all_years = [
            r[0] for r in con.execute("select distinct mapping_year from mart_participation order by 1").fetchall()
        ]
        years = {
            code: sorted(ys)
            for code, ys in con.execute(
                "select geo_code, list(mapping_year) from mart_participation where geo_level = 'municipality' "
                "and municipalities_participating > 0 group by geo_code order by geo_code"
            ).fetchall()
        }
        merged = con.execute(
            "select municipality_code from dim_municipality where valid_to = ? group by municipality_code "
            "having count(distinct municipality_code_registered) >= 2 order by municipality_code",
            [dt.date(2020, 1, 1)],
        ).fetchall()
    finally:
        con.close()
    every = [c for c, ys in years.items() if ys == all_years]
    second = [c for c, ys in years.items() if len(ys) >= 3 and all(b - a == 2 for a, b in itertools.pairwise(ys))]
    merged_codes = [r[0] for r in merged if r[0] in years]
    assert every and second and merged_codes, (every, second, merged_codes)
    # three different municipalities where the data allow it
    merged_pick = next((c for c in merged_codes if c not in every[:1]), merged_codes[0])
    second_pick = next((c for c in second if c != merged_pick), second[0])
    return {"every_year": every[0], "every_second_year": second_pick, "merged_2020": merged_pick}


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
            tab.console_errors.clear()
            tab.requests.clear()
            tab.open(page.resolve().as_uri())
            tab.screenshot(ARTEFACTS / f"{kind}-{page.stem}.png")
            tab.drain()
            assert tab.console_errors == [], f"{page.name}: {tab.console_errors}"
            leaving = [u for u in tab.requests if not u.startswith(("file:", "data:", "about:"))]
            assert leaving == [], f"{page.name} fetched {leaving}"
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
