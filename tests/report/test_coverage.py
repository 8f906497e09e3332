"""Partial coverage (issue 14, warehouse.md "What the figures may mean"): where only some of the registered
municipalities that now form a municipality mapped in a year (Trondheim 2016: only Klæbu), its tables and charts
say "delvis kartlagt: Klæbu"; not when all of them mapped (Ålesund before its 2020 merger, Trondheim 2018)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from brukerplan.report import build_reports
from brukerplan.report.config import load_config
from brukerplan.report.coverage import partial_coverage
from brukerplan.report.published import load_published
from tests.report.small_published import geo, write_published
from tests.support import settings_under

TRONDHEIM_AND_KLAEBU = [
    {"registered": "1601", "name": "Trondheim", "code": "5001", "valid_to": "2018-01-01"},
    {"registered": "1662", "name": "Klæbu", "code": "5001", "valid_to": "2018-01-01"},
    {"registered": "5001", "name": "Trondheim", "code": "5001", "valid_from": "2018-01-01"},
    {"registered": "5030", "name": "Klæbu", "code": "5001", "valid_from": "2018-01-01", "valid_to": "2020-01-01"},
]


def delivery(registered: str, year: int, current: bool, **flags: Any) -> dict[str, Any]:
    row = {"municipality_code_registered": registered, "mapping_year": year, "submission_id": f"{registered}{year}"}
    return row | {"is_current": current, "is_quarantined": not current, "persons": 40 if current else 0} | flags


def coverage_in(tmp_path: Path, in_force: int, participating: int, deliveries: list[dict[str, Any]], year: int = 2016):
    rows = {
        "mart_trends": [geo("municipality", "5001", year, user_group="all", persons=40)],
        "mart_participation": [
            geo(
                "municipality",
                "5001",
                year,
                municipalities_in_force=in_force,
                municipalities_participating=participating,
            )
        ],
        "mart_data_quality": deliveries,
    }
    path = write_published(tmp_path / "published.duckdb", rows, TRONDHEIM_AND_KLAEBU)
    return partial_coverage(load_published(path, load_config(), 5), "5001", year)


def test_one_predecessor_mapped_is_partial_and_named(tmp_path: Path) -> None:
    """2016: Klæbu delivered; Trondheim's only file was quarantined (not current: it did not participate)."""
    found = coverage_in(tmp_path, 2, 1, [delivery("1662", 2016, True), delivery("1601", 2016, False)])
    assert found is not None
    assert (found.in_force, found.participating) == (2, 1)
    assert found.mapped == ("Klæbu",) and found.not_mapped == ("Trondheim",)


def test_all_predecessors_mapped_is_not_partial(tmp_path: Path) -> None:
    deliveries = [delivery("1662", 2016, True), delivery("1601", 2016, True)]
    assert coverage_in(tmp_path, 2, 2, deliveries) is None


def test_one_municipality_in_force_is_never_partial(tmp_path: Path) -> None:
    assert coverage_in(tmp_path, 1, 1, [delivery("5001", 2021, True)], year=2021) is None


def test_names_of_the_codes_in_force_that_year(tmp_path: Path) -> None:
    """2018: the codes are 5001 and 5030 (renumbered), Klæbu still its own municipality."""
    found = coverage_in(tmp_path, 2, 1, [delivery("5030", 2018, True)], year=2018)
    assert found is not None and found.mapped == ("Klæbu",) and found.not_mapped == ("Trondheim",)


def test_without_the_current_flag_the_notice_counts_instead_of_naming(tmp_path: Path) -> None:
    """An older file without is_current, where both delivered something: which one participated is not known,
    so the notice gives the counts of mart_participation and no names."""
    deliveries = [
        {"municipality_code_registered": code, "mapping_year": 2016, "submission_id": code, "persons": 40}
        for code in ("1601", "1662")
    ]
    found = coverage_in(tmp_path, 2, 1, deliveries)
    assert found is not None
    assert (found.in_force, found.participating, found.mapped, found.not_mapped) == (2, 1, (), ())


# -- on the report pages (the shared fixture: Trondheim 2016 only Klæbu, 2017 only Trondheim) ---------------------
@pytest.fixture(scope="module")
def pages(published_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("coverage")
    settings = settings_under(root, published=published_file)
    found = {}
    with open(root / "console.txt", "w", encoding="utf-8") as log:
        for year, codes, lang in ((2016, ["5001"], "nb"), (2018, ["5001"], "nb"), (2024, ["5001", "1508"], "nb")):
            out = root / f"{year}-{lang}"
            build_reports(settings, Console(file=log), codes=codes, year=year, out=out, pdf=False, lang=lang)
            for code in codes:
                found[f"{code}-{year}"] = (out / "pages" / f"municipality-{code}.html").read_text(encoding="utf-8")
        out = root / "2016-en"
        build_reports(settings, Console(file=log), codes=["5001"], year=2016, out=out, pdf=False, lang="en")
        found["5001-2016-en"] = (out / "pages" / "municipality-5001.html").read_text(encoding="utf-8")
    return found


def trend_row(page: str, year: int) -> str:
    table = page[page.index('<table class="trend">') :]
    return re.search(rf"<tr[^>]*><td class=\"text\">{year}\b.*?</tr>", table, re.S).group(0)  # type: ignore[union-attr]


def test_page_of_a_partly_mapped_year_says_so(pages: dict[str, str]) -> None:
    page = pages["5001-2016"]
    assert (
        "Delvis kartlagt i 2016: av kommunene som nå er Trondheim, kartla bare Klæbu (Trondheim kartla ikke)." in page
    )
    assert "Endringen siden forrige kartlegging (2015) sammenligner derfor ikke det samme området." in page
    key_table = page[page.index('<table class="key">') : page.index("</thead>", page.index('<table class="key">'))]
    assert 'Trondheim<br><span class="partial">delvis kartlagt: Klæbu</span>' in key_table
    housing = page[page.index('<section id="housing"') : page.index('<section id="services"')]
    assert "Trondheim (delvis kartlagt: Klæbu)" in housing  # the chart's legend
    assert "2016, delvis kartlagt: Klæbu: tallene gjelder ikke hele dagens Trondheim." in housing


def test_trend_table_and_charts_mark_the_partly_mapped_years(pages: dict[str, str]) -> None:
    page = pages["5001-2024"]
    assert "delvis kartlagt: Klæbu" in trend_row(page, 2016)
    assert "delvis kartlagt: Trondheim" in trend_row(page, 2017)
    assert "delvis" not in trend_row(page, 2015) and "delvis" not in trend_row(page, 2018)
    trend = page[page.index('<section id="trend"') : page.index('<section id="living"')]
    squares = re.findall(r'<rect class="partial"[^>]*><title>([^<]*)</title>', trend)
    # rate chart: Trondheim's line only (not the county's or country's); persons chart: its three groups
    assert len(squares) == 2 * (1 + 3)
    assert all(("2016" in s and "Klæbu" in s) or ("2017" in s and "(delvis kartlagt: Trondheim)" in s) for s in squares)
    assert "delvis kartlagt (2016: Klæbu; 2017: Trondheim)" in trend
    # the 2024 figures cover all of Trondheim: no notice at the top
    assert "Delvis kartlagt i" not in page and "partial-coverage" not in page


def test_previous_mapping_partly_mapped_is_said_at_the_change(pages: dict[str, str]) -> None:
    page = pages["5001-2018"]  # Trondheim and Klæbu both mapped in 2018; in 2017 only Trondheim
    assert "Delvis kartlagt i 2018" not in page
    assert "Forrige kartlegging, 2017, var delvis kartlagt: Trondheim." in page
    assert "delvis kartlagt" not in page[page.index('<table class="key">') : page.index("</thead>")]


def test_merged_municipality_where_all_predecessors_mapped_has_no_notice(pages: dict[str, str]) -> None:
    page = pages["1508-2024"]  # Ålesund: 1504 Ålesund and 1523 Ørskog until 2020, both mapped
    assert "delvis kartlagt:" not in page and "Delvis kartlagt i" not in page


def test_english_notice(pages: dict[str, str]) -> None:
    page = pages["5001-2016-en"]
    assert "Partly mapped in 2016: of the municipalities that now form Trondheim, only Klæbu mapped" in page
    assert "partly mapped: Klæbu" in page
