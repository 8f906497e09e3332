"""`brukerplan report` as a user runs it: selection, usage errors (exit 2), a missing published file (exit 1),
Chromium missing (HTML written, PDFs skipped with a reason, exit 0), English labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from brukerplan.cli import app

runner = CliRunner()


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["report", *args], env=env or {})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--geo", "123"], "expected a 4-digit municipality"),
        (["--geo", "9999"], "no municipality with that code"),
        (["--year", "1999"], "the published file has mapping years 2013–2024"),
        (["--lang", "de"], "choose one of nb, en"),
    ],
)
def test_usage_errors_exit_2(published_file: Path, tmp_path: Path, args: list[str], message: str) -> None:
    code, output = run(["--published", str(published_file), "--out", str(tmp_path / "out"), "--no-pdf", *args])
    assert code == 2, output
    assert message in " ".join(output.split())
    assert not (tmp_path / "out" / "index.html").exists()


def test_missing_published_file_exits_1(tmp_path: Path) -> None:
    code, output = run(["--published", str(tmp_path / "nope.duckdb"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "published file not found" in " ".join(output.split())


def test_without_chromium_html_is_written_and_pdfs_skipped(published_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run(
        ["--published", str(published_file), "--out", str(out), "--geo", "5001", "--geo", "50"],
        env={"BRUKERPLAN_CHROMIUM": str(tmp_path / "no-such-browser")},
    )
    assert code == 0, output
    assert "PDFs skipped" in output and "Chromium was not found" in " ".join(output.split())
    assert sorted(p.name for p in (out / "pages").iterdir()) == ["county-50.html", "municipality-5001.html"]
    assert list((out / "pdf").iterdir()) == []
    assert "2 HTML pages" in output
    page = (out / "pages" / "municipality-5001.html").read_text(encoding="utf-8")
    assert 'href="county-50.html"' in page  # the county page is in this run: linked
    assert "pdf/" not in page  # no PDF link when none is written


@pytest.mark.slow  # report_run prints every page as a PDF with Chromium
def test_default_selection_and_years_shown(report_run) -> None:  # type: ignore[no-untyped-def]
    pages = {p.stem for p in (report_run.out / "pages").glob("*.html")}
    # Røros (5025) never mapped: no page; every county and the country have one
    assert pages == {
        "country-NO",
        "county-15",
        "county-50",
        "municipality-1506",
        "municipality-1508",
        "municipality-1520",
        "municipality-5001",
        "municipality-5035",
    }
    molde = (report_run.out / "pages" / "municipality-1506.html").read_text(encoding="utf-8")
    assert "Molde kartla ikke i 2024. Siden viser siste kartlegging, 2013." in molde
    assert 'data-year="2013"' in molde
    stjordal = (report_run.out / "pages" / "municipality-5035.html").read_text(encoding="utf-8")
    assert 'data-year="2023"' in stjordal
    index = (report_run.out / "index.html").read_text(encoding="utf-8")
    assert "2013–2024" in index  # Trondheim, every year
    assert "2013, 2015, 2017, 2019, 2021, 2023" in index


def test_english_labels(published_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "en"
    code, output = run(
        ["--published", str(published_file), "--out", str(out), "--geo", "1520", "--lang", "en", "--no-pdf"]
    )
    assert code == 0, output
    page = (out / "pages" / "municipality-1520.html").read_text(encoding="utf-8")
    assert "Key figures" in page and "Nøkkeltall" not in page
    assert "Persons mapped" in page
