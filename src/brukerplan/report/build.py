"""`brukerplan report`: one HTML page per geography, an index and a PDF of each page, from the published
file only. The run is written to a staging folder beside the output and moved into place at the end, so a
crash never leaves a half-written page where a reader looks."""

from __future__ import annotations

import datetime as dt
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

from brukerplan.report.browser import BrowserError, Chromium, find_chromium
from brukerplan.report.config import LANGUAGES, load_config, load_labels
from brukerplan.report.pages import PageBuilder
from brukerplan.report.published import COUNTRY_CODE, GEO_LEVELS, Geography, load_published
from brukerplan.settings import Settings

PDF_WORKERS = 2


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


def write_pdfs(
    jobs: list[tuple[Path, Path]], binary: str, advance: Callable[[], None], workers: int = PDF_WORKERS
) -> tuple[list[str], str]:
    """Print each (html, pdf) pair with one browser and `workers` tabs in parallel; returns errors, version."""
    work: queue.Queue[tuple[Path, Path]] = queue.Queue()
    for job in jobs:
        work.put(job)
    errors: list[str] = []
    lock = threading.Lock()
    with Chromium(binary) as browser:

        def run() -> None:
            tab = browser.tab()
            while True:
                try:
                    html, pdf = work.get_nowait()
                except queue.Empty:
                    break
                try:
                    tab.open(html.resolve().as_uri())
                    tab.pdf(pdf)
                except BrowserError as exc:
                    with lock:
                        errors.append(f"{html.name}: {exc}")
                advance()
            tab.close()

        threads = [threading.Thread(target=run, name=f"pdf-{i}") for i in range(max(1, workers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        version = browser.version
    return errors, version


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
            entries = []
            for geo in geos:
                links = {
                    "index": "../index.html",
                    "pdf": f"../pdf/{geo.slug}.pdf" if make_pdf else "",
                    "county": f"{'county-' + geo.county_code}.html"
                    if geo.county_code and ("county", geo.county_code) in written
                    else "",
                }
                _write(staging / "pages" / f"{geo.slug}.html", builder.page(geo, year, links, meta))
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
            if make_pdf and binary is not None:
                pdf_started = time.perf_counter()
                pdf_task = progress.add_task("PDF files", total=len(geos))
                jobs = [(staging / "pages" / f"{g.slug}.html", staging / "pdf" / f"{g.slug}.pdf") for g in geos]
                try:
                    errors, result.browser = write_pdfs(jobs, binary, lambda: progress.advance(pdf_task))
                except BrowserError as exc:
                    errors = [str(exc)]
                result.pdf_errors = errors
                result.pdfs = sum(1 for _, p in jobs if p.exists())
                result.pdf_seconds = time.perf_counter() - pdf_started
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
