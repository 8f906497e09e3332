"""The text of a PDF as Chromium prints it (fonts with a /ToUnicode map, text in the pages and in form
XObjects), read with pikepdf, and the figures a report page prints (its `.fig` spans outside what the print
stylesheet hides), for comparing a PDF with its HTML page."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pikepdf

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HEX = re.compile(rb"<([0-9A-Fa-f]+)>")


def _hex(value: bytes) -> int:
    return int(value, 16)


def _utf16(value: bytes) -> str:
    return bytes.fromhex(value.decode()).decode("utf-16-be", errors="replace")


@dataclass
class FontMap:
    """Character codes of a font to text, from its /ToUnicode CMap."""

    width: int  # bytes per character code: 2 for Type0 (Identity-H), 1 for simple fonts
    chars: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, font: pikepdf.Object) -> FontMap:
        fmap = cls(2 if font.get("/Subtype") == "/Type0" else 1)
        if "/ToUnicode" not in font:
            return fmap
        cmap = font.ToUnicode.read_bytes()
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
            pairs = HEX.findall(block)
            for code, text in zip(pairs[::2], pairs[1::2], strict=True):
                fmap.chars[_hex(code)] = _utf16(text)
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
            for line in block.strip().splitlines():
                if b"[" in line:  # <lo> <hi> [<t1> <t2> ...]
                    values = HEX.findall(line)
                    lo = _hex(values[0])
                    for i, text in enumerate(values[2:]):
                        fmap.chars[lo + i] = _utf16(text)
                    continue
                values = HEX.findall(line)
                if len(values) != 3:
                    continue
                lo, hi, first = _hex(values[0]), _hex(values[1]), _utf16(values[2])
                for i in range(hi - lo + 1):
                    fmap.chars[lo + i] = first[:-1] + chr(ord(first[-1]) + i)
        return fmap

    def decode(self, data: bytes) -> str:
        step = self.width
        return "".join(
            self.chars.get(int.from_bytes(data[i : i + step], "big"), "\ufffd") for i in range(0, len(data), step)
        )


def _text(content: pikepdf.Object, resources: pikepdf.Object, out: list[str]) -> None:
    fonts = resources.get("/Font", pikepdf.Dictionary())
    xobjects = resources.get("/XObject", pikepdf.Dictionary())
    maps: dict[str, FontMap] = {}
    current: FontMap | None = None
    for operands, operator in pikepdf.parse_content_stream(content):
        op = str(operator)
        if op == "Tf":
            name = str(operands[0])
            if name not in maps:
                maps[name] = FontMap.of(fonts[name])
            current = maps[name]
        elif op in ("BT", "Td", "TD", "Tm", "T*"):
            out.append(" ")
        elif op == "Tj" and current is not None:
            out.append(current.decode(bytes(operands[0])))
        elif op == "TJ" and current is not None:
            out.extend(current.decode(bytes(item)) for item in operands[0] if isinstance(item, pikepdf.String))
        elif op == "Do":
            xobject = xobjects.get(str(operands[0]))
            if xobject is not None and xobject.get("/Subtype") == "/Form":
                _text(xobject, xobject.get("/Resources", resources), out)


def pdf_pages_text(path: Path) -> list[str]:
    """The text of each page of a PDF (runs separated by spaces)."""
    with pikepdf.open(path) as pdf:
        texts = []
        for page in pdf.pages:
            out: list[str] = []
            _text(page.obj, page.obj.get("/Resources", pikepdf.Dictionary()), out)
            texts.append("".join(out))
        return texts


class PrintedFigures(HTMLParser):
    """The text of each `.fig` span of a report page that the print stylesheet shows (not inside `<details>`
    or `.noprint`), the page's `<h1>` and its footer (the end of the page)."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[str] = []
        self.withheld: list[str] = []
        self.h1 = ""
        self.footer = ""
        self._in_footer = False
        self._stack: list[tuple[str, bool]] = []  # open elements and whether each hides its content in print
        self._capture: str | None = None
        self._withheld = False
        self._text = ""

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        classes = values.get("class", "").split()
        if tag not in VOID:
            self._stack.append((tag, tag == "details" or "noprint" in classes))
        if tag == "footer":
            self._in_footer = True
        if self._hidden() or self._capture is not None:
            return
        if tag == "span" and "fig" in classes:
            self._capture, self._withheld, self._text = "fig", "withheld" in classes, ""
        elif tag == "h1":
            self._capture, self._text = "h1", ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text += data
        if self._in_footer and not self._hidden():
            self.footer += data

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if tag == "footer":
            self._in_footer = False
        closing = {"fig": "span", "h1": "h1"}.get(self._capture or "")
        if closing == tag:
            text = self._text.strip()
            if self._capture == "fig":
                self.figures.append(text)
                if self._withheld:
                    self.withheld.append(text)
            else:
                self.h1 = text
            self._capture = None
        while self._stack:
            if self._stack.pop()[0] == tag:
                break


def printed_figures(path: Path) -> PrintedFigures:
    parser = PrintedFigures()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def squeeze(text: str) -> str:
    """Text without any white space (PDF runs and HTML spaces, no-break or not, need not agree) and with
    ligatures spelled out (the PDF's "ﬁ" is the page's "fi")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
