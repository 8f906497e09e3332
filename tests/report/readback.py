"""Reading the figures of a report page back from its HTML (the data attributes every figure carries) and
checking each against the published file, independently of the report code."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb


@dataclass
class Span:
    attrs: dict[str, str]
    text: str = ""


class FigureParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[Span] = []
        self._open: Span | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "span" and "fig" in values.get("class", "").split():
            self._open = Span(values)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:
            self.figures.append(self._open)
            self._open = None


def figures_of(path: Path) -> list[Span]:
    parser = FigureParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.figures


def parse_number(text: str) -> tuple[float, int]:
    """A printed number (nb or en style) as a float and its number of decimals."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace("%", "").replace("−", "-").replace("±", "")
    cleaned = cleaned.lstrip("+")
    if "," in cleaned and "." not in cleaned and re.fullmatch(r"-?\d+,\d+", cleaned):
        cleaned = cleaned.replace(",", ".")  # nb decimal comma
    else:
        cleaned = cleaned.replace(",", "")  # en thousands separator
    if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
        raise ValueError(f"not a number: {text!r}")
    decimals = len(cleaned.split(".")[1]) if "." in cleaned else 0
    return float(cleaned), decimals


@dataclass
class Checked:
    shown: int = 0
    withheld: int = 0
    missing: int = 0
    problems: list[str] = field(default_factory=list)


class Published:
    """Direct look-ups in the published file, one cell at a time (slow but independent)."""

    def __init__(self, path: Path) -> None:
        self.con = duckdb.connect(str(path), read_only=True)

    def close(self) -> None:
        self.con.close()

    def cell(self, table: str, key: dict[str, Any], column: str) -> tuple[bool, Any, bool]:
        """(row exists, value, withheld). Withheld: the row's `<column>_withheld` flag is true (a NULL without a
        true flag is no figure)."""
        where = " and ".join(f"{k} = ?" for k in key)
        cursor = self.con.execute(f"select * from {table} where {where}", list(key.values()))
        found = cursor.fetchone()
        if found is None:
            return False, None, False
        row = dict(zip([d[0] for d in cursor.description], found, strict=True))
        return True, row[column], row.get(f"{column}_withheld") is True


def expected_value(published: Published, span: Span) -> tuple[str, float | None]:
    """('shown', value) / ('withheld', None) / ('missing', None) from the published file."""
    formula = span.attrs.get("data-formula", "cell")
    if formula == "cell":
        exists, value, withheld = published.cell(
            span.attrs["data-table"], json.loads(span.attrs["data-key"]), span.attrs["data-column"]
        )
        if withheld:
            return "withheld", None
        if not exists or value is None:
            return "missing", None
        return "shown", float(value)
    parts = [published.cell(p["table"], p["key"], p["column"]) for p in json.loads(span.attrs["data-parts"])]
    if any(w for _, _, w in parts):
        return "withheld", None
    values = [v for exists, v, _ in parts if exists and v is not None]
    if formula == "ratio":
        if len(values) != 2 or not values[1]:
            return "missing", None
        return "shown", float(values[0]) / float(values[1])
    if not values:
        return "missing", None
    return "shown", float(sum(values))


def check_page(path: Path, published: Published, threshold: int) -> Checked:
    checked = Checked()
    for span in figures_of(path):
        state, value = expected_value(published, span)
        kind = span.attrs["data-kind"]
        where = f"{path.name}: {span.attrs.get('data-table', 'derived')} {span.attrs.get('data-key', '')}"
        where += f" {span.attrs.get('data-column', span.attrs.get('data-parts', ''))[:200]}"
        if state == "withheld":
            checked.withheld += 1
            allowed = f"<{threshold}" if kind == "count" else ":"
            if span.attrs.get("data-withheld") != "true" or span.text != allowed:
                checked.problems.append(f"{where}: withheld cell printed as {span.text!r}")
            if "data-value" in span.attrs:
                checked.problems.append(f"{where}: withheld cell carries data-value {span.attrs['data-value']}")
            continue
        if state == "missing":
            checked.missing += 1
            if re.search(r"\d", span.text):
                checked.problems.append(f"{where}: no published value but printed {span.text!r}")
            continue
        checked.shown += 1
        assert value is not None
        if abs(float(span.attrs.get("data-value", "nan")) - value) > 1e-9 * max(1.0, abs(value)):
            checked.problems.append(f"{where}: data-value {span.attrs.get('data-value')} != published {value}")
        try:
            printed, decimals = parse_number(span.text)
        except ValueError:
            checked.problems.append(f"{where}: printed {span.text!r} is not a number")
            continue
        if kind == "share":
            printed /= 100.0
            tolerance = 0.5 * 10 ** (-decimals) / 100.0
        else:
            tolerance = 0.5 * 10 ** (-decimals)
        if abs(printed - value) > tolerance + 1e-9:
            checked.problems.append(f"{where}: printed {span.text!r} but published {value}")
    return checked
