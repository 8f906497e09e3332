"""Several report pages printed as one document and the PDF cut back into one file per page (docs/decisions.md
R13). Chromium's cost of a PDF is largely per print (a navigation, entering print mode twice, a print-compositor
process, the PDF's transfer), so printing a batch of pages at once is cheaper than printing them one by one.

The print document holds each page's `<body>` unchanged in a `<div>` of its own, under the pages' one
stylesheet, each starting on a new sheet of paper (as each page's own first sheet does). A hidden list of links
to the divs makes Chromium write a named destination for each (the PDF page where a div starts): those are the
cut points. The screen view of the document is empty: printing lays it out at paper size anyway."""

from __future__ import annotations

import html
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pikepdf

ANCHOR = "brukerplan-print-"
STYLE = re.compile(r"<style>(.*?)</style>", re.S)
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
LANG = re.compile(r'<html lang="([^"]*)"')
BODY = re.compile(r"<body([^>]*)>(.*)</body>", re.S)
# what a print document leaves out of each page's body: the figures' data attributes (where each figure comes from,
# for tests and readers of the HTML page) and the charts' tooltips. Neither is printed (no selector or script reads
# them) and they are most of a page's text: without them Chromium prints the same sheets faster (decisions R14)
NOT_PRINTED = re.compile(r' data-[a-z-]+="[^"]*"|<title>[^<]*</title>')
# the document's own: nothing on screen (only printing lays it out), every page from a new sheet of paper
PRINT_STYLE = (
    "@media screen { body { display: none; } }\n"
    f'div[id^="{ANCHOR}"] + div[id^="{ANCHOR}"] {{ break-before: page; }}\n'
    "nav.print-anchors { display: none; }"
)


class PrintDocumentError(ValueError):
    """Pages that cannot share a print document, or a PDF that cannot be cut back into them."""


@dataclass(frozen=True)
class PrintPage:
    """One report page as written (its HTML text) and the title its own PDF carries."""

    style: str
    lang: str
    attributes: str  # of its <body>: the data attributes of the geography
    body: str
    title: str

    @classmethod
    def parse(cls, text: str) -> PrintPage:
        style, lang, body, title = STYLE.search(text), LANG.search(text), BODY.search(text), TITLE.search(text)
        if style is None or lang is None or body is None or title is None:
            raise PrintDocumentError("not a report page: no <style>, <html lang>, <title> or <body>")
        return cls(style.group(1), lang.group(1), body.group(1), body.group(2), html.unescape(title.group(1)))


def print_document(pages: list[PrintPage], base: str) -> str:
    """One HTML document printing `pages` in order; `base` is the URL relative links resolve against (the
    pages' folder, so a link in the PDF points where the page's own link points)."""
    if not pages:
        raise PrintDocumentError("no pages")
    style = pages[0].style
    if any(p.style != style for p in pages):
        raise PrintDocumentError("the pages do not share one stylesheet")
    anchors = "".join(f'<a href="#{ANCHOR}{i}"></a>' for i in range(len(pages)))
    divs = "\n".join(
        f'<div id="{ANCHOR}{i}" lang="{p.lang}"{p.attributes}>{NOT_PRINTED.sub("", p.body)}</div>'
        for i, p in enumerate(pages)
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{pages[0].lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<base href="{base}">\n<link rel="icon" href="data:,">\n<title>{len(pages)}</title>\n'
        f"<style>{style}</style>\n<style>{PRINT_STYLE}</style>\n</head>\n"
        f'<body>\n<nav class="print-anchors">{anchors}</nav>\n{divs}\n</body>\n</html>\n'
    )


def split_pdf(data: bytes, pages: list[PrintPage]) -> list[bytes]:
    """The PDF of a print document cut into one PDF per page, at the named destinations of its divs; each
    keeps the document's information but for its page's title."""
    try:
        return _split(data, pages)
    except pikepdf.PdfError as exc:
        raise PrintDocumentError(f"the printed document cannot be read: {exc}") from exc


def _split(data: bytes, pages: list[PrintPage]) -> list[bytes]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        sheets = {page.objgen: i for i, page in enumerate(pdf.pages)}
        destinations = _destinations(pdf)
        starts = []
        for i in range(len(pages)):
            target = destinations.get(f"{ANCHOR}{i}")
            if target is None or not isinstance(target, pikepdf.Array) or len(target) == 0:
                raise PrintDocumentError(f"the printed document has no destination for page {i}")
            start = sheets.get(target[0].objgen)
            if start is None:
                raise PrintDocumentError(f"the destination of page {i} is not a page of the document")
            starts.append(start)
        if starts[0] != 0 or any(b <= a for a, b in itertools.pairwise(starts)):
            raise PrintDocumentError(f"pages do not start on sheets of their own: {starts}")
        info = {key: str(value) for key, value in pdf.docinfo.items() if isinstance(value, pikepdf.String)}
        out = []
        for page, start, end in zip(pages, starts, [*starts[1:], len(pdf.pages)], strict=True):
            part = pikepdf.new()
            part.pages.extend(pdf.pages[start:end])
            for key, value in {**info, "/Title": page.title}.items():
                part.docinfo[key] = value
            buffer = io.BytesIO()
            part.save(buffer)
            out.append(buffer.getvalue())
        return out


def _destinations(pdf: pikepdf.Pdf) -> dict[str, pikepdf.Object]:
    """Named destinations, from the catalogue's /Dests (as Chromium writes them) or the /Names tree."""
    found: dict[str, pikepdf.Object] = {}
    dests = pdf.Root.get("/Dests")
    if isinstance(dests, pikepdf.Dictionary):
        for key in dests.keys():  # noqa: SIM118 (a pikepdf dictionary)
            found[key.lstrip("/")] = dests[key]
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/Dests" in names:
        for key, value in pikepdf.NameTree(names.Dests).items():
            found[str(key)] = value
    for key, value in list(found.items()):  # a destination may be a dictionary with the array under /D
        if isinstance(value, pikepdf.Dictionary) and "/D" in value:
            found[key] = value.D
    return found


def read_page(path: Path) -> PrintPage:
    return PrintPage.parse(path.read_text(encoding="utf-8"))
