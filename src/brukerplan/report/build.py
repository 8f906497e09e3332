"""`brukerplan report`: one HTML page per geography, an index and a PDF of each page, from the published
file only. The run is written to a staging folder beside the output and moved into place at the end, so a
crash never leaves a half-written page where a reader looks."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from brukerplan.report.browser import BrowserError, Chromium, Tab, find_chromium
from brukerplan.report.config import LANGUAGES, load_config, load_labels
from brukerplan.report.pages import PageBuilder
from brukerplan.report.printdoc import print_document, read_page, split_pdf
from brukerplan.report.published import COUNTRY_CODE, GEO_LEVELS, Geography, load_published
from brukerplan.settings import Settings

# tabs printing at once in the one browser, while the pages are still being written (docs/decisions.md R5)
PDF_WORKERS = 3
# the printing browser's window: printing lays the page out again at the paper's size, so the screen view of each
# page only costs raster work; a small window keeps that small (the PDFs are the same, docs/decisions.md R12)
PRINT_WINDOW = (800, 100)
# pages printed as one document and cut back into a PDF each (docs/decisions.md R13)
PRINT_BATCH = 8


class ReportUsageError(ValueError):
    """A --geo, --year or --lang value that cannot be used (exit status 2)."""


@dataclass
class ReportResult:
    out: Path
    year: int
    lang: str
    pages: int = 0
    pdfs: int = 0
    html_seconds: float = 0.0
    pdf_seconds: float = 0.0
    seconds: float = 0.0
    pdf_skipped: str | None = None
    pdf_errors: list[str] = field(default_factory=list)
    pdf_fallbacks: list[str] = field(default_factory=list)  # batches printed page by page (R13), and why
    browser: str = ""

    @property
    def ok(self) -> bool:
        return not self.pdf_errors


def level_of(code: str) -> str:
    if code.upper() == COUNTRY_CODE:
        return "country"
    if code.isdigit() and len(code) == 2:
        return "county"
    if code.isdigit() and len(code) == 4:
        return "municipality"
    raise ReportUsageError(f"--geo {code!r}: expected a 4-digit municipality, a 2-digit county code or NO")


def select(published_geos: dict[tuple[str, str], Geography], codes: list[str] | None, year: int) -> list[Geography]:
    """The geographies to write: the given codes, or every municipality that mapped by `year`, every county
    and the country."""
    if codes:
        chosen = []
        for code in codes:
            level = level_of(code)
            geo = published_geos.get((level, code.upper() if level == "country" else code))
            if geo is None:
                raise ReportUsageError(f"--geo {code}: no {level} with that code in the published file")
            chosen.append(geo)
        return _unique(chosen)
    chosen = [g for g in published_geos.values() if g.level != "municipality" or any(y <= year for y in g.years)]
    order = {level: i for i, level in enumerate(GEO_LEVELS[::-1])}
    return sorted(chosen, key=lambda g: (order[g.level], g.code))


def _unique(geos: list[Geography]) -> list[Geography]:
    seen: set[tuple[str, str]] = set()
    out = []
    for g in geos:
        if (g.level, g.code) not in seen:
            seen.add((g.level, g.code))
            out.append(g)
    return out


def years_text(years: set[int]) -> str:
    """2013, 2015–2018 style."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


class PdfPrinter:
    """Prints (html, pdf) pairs with one browser and `workers` tabs while the pages are still being written: a
    page is handed over as soon as it is on disk (`submit`), so Chromium prints while Python renders the next
    pages and both cores work. Pages are printed `batch` at a time as one print document and the PDF cut back
    into one file per page (docs/decisions.md R13); a batch that cannot be printed so is printed page by page.
    `finish` waits for the last PDF; returns the errors and the browser version."""

    def __init__(
        self,
        binary: str,
        advance: Callable[[], None],
        workdir: Path,
        workers: int = PDF_WORKERS,
        batch: int = PRINT_BATCH,
    ) -> None:
        self._work: queue.Queue[list[tuple[Path, Path]] | None] = queue.Queue()
        self._advance = advance
        self._workdir = workdir
        self._workers = max(1, workers)
        self._batch_size = max(1, batch)
        self._batch: list[tuple[Path, Path]] = []
        self._browser = Chromium(binary, window=PRINT_WINDOW)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.fallbacks: list[str] = []  # batches printed page by page, and why

    def __enter__(self) -> PdfPrinter:
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._browser.__enter__()
        self._threads = [threading.Thread(target=self._run, name=f"pdf-{i}") for i in range(self._workers)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        self._browser.close()

    def submit(self, html: Path, pdf: Path) -> None:
        self._batch.append((html, pdf))
        if len(self._batch) >= self._batch_size:
            self._work.put(self._batch)
            self._batch = []

    def finish(self) -> tuple[list[str], str]:
        if self._threads:
            if self._batch:
                self._work.put(self._batch)
                self._batch = []
            for _ in self._threads:
                self._work.put(None)
            for thread in self._threads:
                thread.join()
            self._threads = []
        return self.errors, self._browser.version

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _run(self) -> None:
        try:
            tab = self._browser.tab()
        except BrowserError as exc:
            self._error(str(exc))
            tab = None
        while (batch := self._work.get()) is not None:
            if tab is None:
                for html, _ in batch:
                    self._error(f"{html.name}: no browser tab")
                    self._advance()
                continue
            if len(batch) > 1:
                try:
                    self._print_together(tab, batch)
                    continue
                except Exception as exc:  # whatever failed, the batch is printed page by page below
                    with self._lock:
                        self.fallbacks.append(f"{batch[0][0].name} … {batch[-1][0].name}: {exc}")
            for html, pdf in batch:
                try:
                    tab.open(html.resolve().as_uri())
                    tab.pdf(pdf)
                except BrowserError as exc:
                    self._error(f"{html.name}: {exc}")
                self._advance()
        if tab is not None:
            with contextlib.suppress(BrowserError):
                tab.close()

    def _print_together(self, tab: Tab, batch: list[tuple[Path, Path]]) -> None:
        """One print document for the batch, one PDF per page cut from its PDF."""
        pages = [read_page(html) for html, _ in batch]
        base = batch[0][0].resolve().parent.as_uri() + "/"
        document = self._workdir / f"{batch[0][0].stem}.html"
        document.write_text(print_document(pages, base), encoding="utf-8")
        try:
            tab.open(document.resolve().as_uri())
            parts = split_pdf(tab.pdf_bytes(), pages)
        finally:
            document.unlink(missing_ok=True)
        for (_, pdf), data in zip(batch, parts, strict=True):
            pdf.write_bytes(data)
            self._advance()


def build_reports(
    settings: Settings,
    console: Console,
    codes: list[str] | None = None,
    year: int | None = None,
    lang: str = "nb",
    out: Path | None = None,
    pdf: bool = True,
) -> ReportResult:
    started = time.perf_counter()
    if lang not in LANGUAGES:
        raise ReportUsageError(f"--lang {lang!r}: choose one of {', '.join(LANGUAGES)}")
    config = load_config()
    labels = load_labels(lang)
    published = load_published(settings.published, config, settings.suppression_threshold)
    if not published.years:
        raise ReportUsageError(f"{settings.published} holds no mapping years")
    if year is None:
        year = max(published.years)
    elif year not in published.years:
        raise ReportUsageError(
            f"--year {year}: the published file has mapping years {years_text(set(published.years))}"
        )
    geos = select(published.geographies, codes, year)
    out = (out or settings.reports).resolve()
    result = ReportResult(out=out, year=year, lang=lang)

    binary = find_chromium() if pdf else None
    if not pdf:
        result.pdf_skipped = "--no-pdf was given"
    elif binary is None:
        result.pdf_skipped = (
            "Chromium was not found (install the Debian package `chromium`, e.g. `make setup` as root, "
            "or set BRUKERPLAN_CHROMIUM)"
        )

    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{os.getpid()}-{int(time.time())}"
    (staging / "pages").mkdir(parents=True)
    (staging / "pdf").mkdir()
    builder = PageBuilder(published, config, labels, lang)
    written = {(g.level, g.code) for g in geos}
    meta: dict[str, Any] = {
        "published_at": str(published.metadata.get("published_at", "?")),
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    make_pdf = result.pdf_skipped is None
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("HTML pages", total=len(geos))
            with contextlib.ExitStack() as stack:
                printer = None
                if make_pdf and binary is not None:
                    pdf_task = progress.add_task("PDF files", total=len(geos))
                    advance_pdf = functools.partial(progress.advance, pdf_task)
                    pdf_started = time.perf_counter()
                    try:
                        printer = stack.enter_context(PdfPrinter(binary, advance_pdf, staging / "print"))
                    except BrowserError as exc:
                        result.pdf_errors = [str(exc)]
                entries = []
                for geo in geos:
                    links = {
                        "index": "../index.html",
                        "pdf": f"../pdf/{geo.slug}.pdf" if make_pdf else "",
                        "county": f"{'county-' + geo.county_code}.html"
                        if geo.county_code and ("county", geo.county_code) in written
                        else "",
                    }
                    page = staging / "pages" / f"{geo.slug}.html"
                    _write(page, builder.page(geo, year, links, meta))
                    if printer is not None:
                        printer.submit(page, staging / "pdf" / f"{geo.slug}.pdf")
                    county = published.geography("county", geo.county_code) if geo.county_code else None
                    entries.append(
                        {
                            "name": builder.name(geo),
                            "code": geo.code,
                            "level": labels["level"][geo.level],
                            "county": county.name if county else "",
                            "years": years_text(geo.years),
                            "href": f"pages/{geo.slug}.html",
                            "pdf": f"pdf/{geo.slug}.pdf" if make_pdf else "",
                        }
                    )
                    progress.advance(task)
                _write(staging / "index.html", builder.index(entries, year, meta))
                result.pages = len(geos)
                result.html_seconds = time.perf_counter() - started
                if printer is not None:
                    errors, result.browser = printer.finish()
                    result.pdf_errors = errors
                    result.pdf_fallbacks = printer.fallbacks
                    result.pdf_seconds = time.perf_counter() - pdf_started  # printed while the pages were written
            if make_pdf:
                result.pdfs = sum(1 for g in geos if (staging / "pdf" / f"{g.slug}.pdf").exists())
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


def _publish(staging: Path, out: Path) -> None:
    """Move the staged files into place, pages and PDFs first and the index last."""
    for folder in ("pages", "pdf"):
        target = out / folder
        target.mkdir(exist_ok=True)
        for path in sorted((staging / folder).iterdir()):
            os.replace(path, target / path.name)
    os.replace(staging / "index.html", out / "index.html")
