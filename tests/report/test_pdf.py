"""Each PDF shows what its HTML page prints (docs/decisions.md R13): pages are printed several at a time as one
document and the PDF cut back into one file per page, so a PDF must hold its own page, all of it and nothing
of the next one: its heading on the first sheet, its footer at the end (once), every figure and every withheld marker
the page prints. And a page must fit the paper's width (else Chromium lays it out again to shrink it)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pikepdf
import pytest

from brukerplan.report.browser import Chromium, find_chromium
from brukerplan.report.build import PRINT_BATCH, PdfPrinter
from brukerplan.report.printdoc import print_document, read_page, split_pdf
from tests.report.conftest import ReportRun
from tests.report.pdftext import pdf_pages_text, printed_figures, squeeze

pytestmark = pytest.mark.browser

HOW = ("alone", "together")  # a page printed from its own HTML, and in a print document
# A4 less the @page side margins of report.css (10 mm each), in CSS pixels
PRINT_WIDTH = round((210 - 2 * 10) / 25.4 * 96)


def assert_pdf_shows_page(pdf: Path, page: Path) -> None:
    sheets = [squeeze(text) for text in pdf_pages_text(pdf)]
    printed = printed_figures(page)
    assert printed.h1 and printed.footer and printed.figures, page.name
    assert squeeze(printed.h1) in sheets[0], f"{pdf.name}: the first sheet is not {printed.h1}'s"
    footer = squeeze(printed.footer)
    whole = "".join(sheets)
    assert whole.endswith(footer), f"{pdf.name}: does not end with the page's footer"
    assert whole.count(footer) == 1, f"{pdf.name}: holds {whole.count(footer)} pages"
    for kind, texts in (("figure", printed.figures), ("withheld marker", printed.withheld)):
        for text, times in Counter(squeeze(t) for t in texts).items():
            assert whole.count(text) >= times, f"{pdf.name}: {kind} {text!r} {times}× on the page, fewer in the PDF"


def test_every_pdf_shows_its_page(report_run: ReportRun) -> None:
    pages = sorted((report_run.out / "pages").glob("*.html"))
    assert len(pages) > 1 and PRINT_BATCH > 1, "the report run should print pages together"
    assert report_run.result.pdf_fallbacks == []
    withheld = 0
    for page in pages:
        assert_pdf_shows_page(report_run.out / "pdf" / f"{page.stem}.pdf", page)
        withheld += len(printed_figures(page).withheld)
    assert withheld > 0, "the fixture should have withheld cells"


def test_pdfs_carry_their_page_title(report_run: ReportRun) -> None:
    for page in sorted((report_run.out / "pages").glob("*.html")):
        with pikepdf.open(report_run.out / "pdf" / f"{page.stem}.pdf") as pdf:
            title = str(pdf.docinfo["/Title"])
        assert f"<title>{title}</title>" in page.read_text(encoding="utf-8")


def test_batches_of_any_size_and_a_failed_batch(report_run: ReportRun, tmp_path: Path) -> None:
    """Batches of three (the last one shorter) give the same PDFs as the report run's one batch; a batch with a
    file that is not a report page is printed page by page instead, every page still getting its PDF."""
    binary = find_chromium()
    assert binary is not None
    pages = sorted((report_run.out / "pages").glob("*.html"))
    folder = tmp_path / "pages"
    folder.mkdir()
    for page in pages:
        shutil.copy(page, folder / page.name)
    stray = folder / "stray.html"
    stray.write_text("<!DOCTYPE html><html><body><p>not a report page</p></body></html>", encoding="utf-8")
    done: list[int] = []
    with PdfPrinter(binary, lambda: done.append(1), tmp_path / "print", workers=2, batch=3) as printer:
        for page in [*pages, stray]:
            printer.submit(folder / page.name, tmp_path / f"{page.stem}.pdf")
        errors, _ = printer.finish()
    assert errors == []
    assert len(done) == len(pages) + 1
    assert len(printer.fallbacks) == 1 and "stray.html" in printer.fallbacks[0], printer.fallbacks
    assert not list((tmp_path / "print").iterdir()), "print documents are removed"
    for page in pages:
        ours, theirs = (
            pdf_pages_text(tmp_path / f"{page.stem}.pdf"),
            pdf_pages_text(report_run.out / "pdf" / f"{page.stem}.pdf"),
        )
        assert [squeeze(t) for t in ours] == [squeeze(t) for t in theirs], page.name
        assert_pdf_shows_page(tmp_path / f"{page.stem}.pdf", page)
    assert (tmp_path / "stray.pdf").read_bytes()[:5] == b"%PDF-"


def test_a_page_prints_the_same_alone_and_in_a_print_document(report_run: ReportRun, tmp_path: Path) -> None:
    """A print document leaves out the figures' data attributes and the charts' tooltips (decisions R14): they are not
    printed, so every sheet of a page printed in a document reads as the page printed alone from its own HTML."""
    pages = sorted((report_run.out / "pages").glob("*.html"))[:3]
    texts = [page.read_text(encoding="utf-8") for page in pages]
    assert all(' data-table="' in text and text.count("<title>") > 1 for text in texts), "the fixture has no tooltip"
    document = print_document([read_page(page) for page in pages], pages[0].parent.resolve().as_uri() + "/")
    assert ' data-table="' not in document and ' data-key="' not in document
    assert document.count("<title>") == 1, "a tooltip is left in the print document"
    (tmp_path / "document.html").write_text(document, encoding="utf-8")
    with Chromium(window=(800, 100)) as browser:
        tab = browser.tab()
        tab.open((tmp_path / "document.html").as_uri())
        together = split_pdf(tab.pdf_bytes(), [read_page(page) for page in pages])
        for page, data in zip(pages, together, strict=True):
            (tmp_path / f"{page.stem}-together.pdf").write_bytes(data)
            tab.open(page.resolve().as_uri())
            tab.pdf(tmp_path / f"{page.stem}-alone.pdf")
    for page in pages:
        alone, together = ([squeeze(t) for t in pdf_pages_text(tmp_path / f"{page.stem}-{how}.pdf")] for how in HOW)
        assert alone and together == alone, page.name


def test_pages_fit_the_paper_width(report_run: ReportRun) -> None:
    """With the print stylesheet at the width of the paper between its margins, nothing sticks out on the right:
    Chromium would otherwise lay every printed page out a second time, wider, and shrink it to fit."""
    with Chromium(window=(800, 600)) as browser:
        tab = browser.tab()
        tab._call("Emulation.setEmulatedMedia", {"media": "print"})
        tab._call(
            "Emulation.setDeviceMetricsOverride",
            {"width": PRINT_WIDTH, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        for page in sorted((report_run.out / "pages").glob("*.html")):
            tab.open(page.resolve().as_uri())
            width = tab.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width[0] <= width[1] == PRINT_WIDTH, f"{page.name}: {width[0]} px wide in print"
