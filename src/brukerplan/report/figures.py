"""A figure shown on a page: its value or the fact that it is withheld, where it comes from in the published
file, and how it is printed. Every figure is printed as a <span class="fig"> with data attributes naming its
table, key and column, so a test (or a curious reader) can check it against the published file."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from brukerplan.report.published import Published


@dataclass(frozen=True)
class Source:
    table: str
    key: tuple[tuple[str, Any], ...]
    column: str

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "key": dict(self.key), "column": self.column}


@dataclass(frozen=True)
class Figure:
    value: float | int | None
    kind: str
    withheld: bool = False
    missing: bool = False
    sources: tuple[Source, ...] = ()
    formula: str = "cell"  # cell | ratio | sum

    @property
    def shown(self) -> bool:
        return not self.withheld and not self.missing and self.value is not None


def cell(published: Published, table: str, column: str, kind: str, **key: Any) -> Figure:
    """One published cell. A row that does not exist (no mapping) is `missing`; a withheld cell is withheld."""
    source = Source(table, tuple((k, key[k]) for k in published.keys[table]), column)
    row = published.row(table, **key)
    if row is None:
        return Figure(None, kind, missing=True, sources=(source,))
    if column in row.withheld:
        return Figure(None, kind, withheld=True, sources=(source,))
    value = row.get(column)
    return Figure(value, kind, missing=value is None, sources=(source,))


def ratio(numerator: Figure, denominator: Figure, kind: str = "share") -> Figure:
    sources = numerator.sources + denominator.sources
    if numerator.withheld or denominator.withheld:
        return Figure(None, kind, withheld=True, sources=sources, formula="ratio")
    if not numerator.shown or not denominator.shown or not denominator.value:
        return Figure(None, kind, missing=True, sources=sources, formula="ratio")
    return Figure(float(numerator.value) / float(denominator.value), kind, sources=sources, formula="ratio")


def total(parts: list[Figure], kind: str) -> Figure:
    sources = tuple(s for p in parts for s in p.sources)
    if any(p.withheld for p in parts):
        return Figure(None, kind, withheld=True, sources=sources, formula="sum")
    shown = [p for p in parts if p.shown]
    if not shown:
        return Figure(None, kind, missing=True, sources=sources, formula="sum")
    value: float | int = sum(p.value for p in shown if p.value is not None)
    return Figure(value, kind, sources=sources, formula="sum")


@dataclass(frozen=True)
class NumberFormat:
    decimal: str
    thousands: str
    percent: str
    threshold: int

    def digits(self, value: float, decimals: int) -> str:
        text = f"{abs(value):,.{decimals}f}"
        text = text.replace(",", "\0").replace(".", self.decimal).replace("\0", self.thousands)
        return ("−" if value < 0 and round(abs(value), decimals) != 0 else "") + text

    def text(self, figure: Figure) -> str:
        if figure.withheld:
            return f"<{self.threshold}" if figure.kind == "count" else ":"
        if not figure.shown:
            return ".."
        value = figure.value
        assert value is not None
        if isinstance(value, float) and math.isnan(value):
            return ".."
        if figure.kind == "count":
            return self.digits(float(value), 0)
        if figure.kind == "year":
            return str(int(value))
        if figure.kind == "share":
            return self.digits(100.0 * float(value), 0 if abs(value) >= 0.1 else 1) + self.percent
        if figure.kind == "change":
            text = self.digits(float(value), 0)
            return "+" + text if value > 0 else ("±0" if text == "0" else text)
        return self.digits(float(value), 1)  # rate, mean

    def html(self, figure: Figure) -> Markup:
        """The figure as <span class="fig" data-…>text</span> (built as plain text: this runs ~100k times)."""
        parts = ['<span class="fig', "", f'" data-kind="{figure.kind}" data-formula="{figure.formula}"']
        if len(figure.sources) == 1 and figure.formula == "cell":
            source = figure.sources[0]
            key = json.dumps(dict(source.key), ensure_ascii=False, default=str)
            parts.append(f' data-table="{source.table}" data-key="{_attr(key)}" data-column="{source.column}"')
        else:
            data = json.dumps([s.as_json() for s in figure.sources], ensure_ascii=False, default=str)
            parts.append(f' data-parts="{_attr(data)}"')
        if figure.withheld:
            parts[1] = " withheld"
            parts.append(' data-withheld="true" title="withheld"')
        elif not figure.shown:
            parts[1] = " missing"
            parts.append(' data-missing="true"')
        else:
            parts.append(f' data-value="{figure.value!r}"')
        parts.append(f">{_attr(self.text(figure))}</span>")
        return Markup("".join(parts))


def _attr(text: str) -> str:
    return html.escape(text, quote=True)
