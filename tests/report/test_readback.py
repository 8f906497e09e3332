"""Every figure printed on every page equals the published cell it names; withheld cells are never printed as
a number (issue 9, "Done when")."""

from __future__ import annotations

import re

import pytest

from tests.report.conftest import ReportRun
from tests.report.readback import Published, check_page, figures_of

pytestmark = pytest.mark.slow  # report_run prints every page as a PDF with Chromium


def test_every_figure_equals_the_published_table(report_run: ReportRun) -> None:
    published = Published(report_run.published)
    try:
        pages = sorted((report_run.out / "pages").glob("*.html"))
        assert len(pages) == 8  # 5 municipalities that mapped, 2 counties, the country
        totals = {"shown": 0, "withheld": 0, "missing": 0}
        problems: list[str] = []
        for page in pages:
            checked = check_page(page, published, threshold=5)
            totals["shown"] += checked.shown
            totals["withheld"] += checked.withheld
            totals["missing"] += checked.missing
            problems += checked.problems
    finally:
        published.close()
    assert problems == [], "\n".join(problems[:20])
    assert totals["shown"] > 1000
    assert totals["withheld"] > 50  # the small municipality has withheld cells: the path is exercised


def test_small_municipality_prints_withheld_cells_as_threshold(report_run: ReportRun) -> None:
    spans = figures_of(report_run.out / "pages" / "municipality-1520.html")
    withheld = [s for s in spans if s.attrs.get("data-withheld") == "true"]
    assert withheld
    for span in withheld:
        assert span.text in ("<5", ":")
        assert not re.search(r"\d", span.text.replace("<5", ""))
    page = (report_run.out / "pages" / "municipality-1520.html").read_text(encoding="utf-8")
    assert "«&lt;5» betyr at tallet er skjult" in page


def test_share_built_on_a_withheld_count_is_withheld_on_page(report_run: ReportRun) -> None:
    """1520's serious-ROP count in 2024 is withheld in the published file, so the serious-ROP share on its page
    must be withheld too (":"), never computed from anything else."""
    published = Published(report_run.published)
    try:
        row = published.con.execute(
            "select persons, persons_withheld from mart_trends where geo_level = 'municipality' "
            "and geo_code = '1520' and mapping_year = 2024 and user_group = 'rop_serious'"
        ).fetchone()
    finally:
        published.close()
    assert row == (None, True), "fixture should withhold 1520's serious-ROP persons in 2024"
    spans = figures_of(report_run.out / "pages" / "municipality-1520.html")
    shares = [
        s
        for s in spans
        if s.attrs.get("data-formula") == "ratio"
        and '"user_group": "rop_serious"' in s.attrs.get("data-parts", "")
        and '"geo_code": "1520"' in s.attrs.get("data-parts", "")
    ]
    assert shares, "the serious-ROP share should be on the page"
    assert all(s.text == ":" and s.attrs.get("data-withheld") == "true" for s in shares)
