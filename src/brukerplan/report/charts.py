"""Small inline-SVG charts (no script, no font or file fetched): a line chart whose lines break where a year
has no mapping, horizontal stacked 100 % bars, and horizontal grouped bars. Values come in as Figures; a
withheld or missing value is never drawn as a number or as zero."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from brukerplan.report.figures import Figure, NumberFormat

WIDTH = 720
FONT = 12


def _svg(height: float, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = FONT, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


@dataclass
class Series:
    name: str
    colour: str
    points: dict[int, Figure] = field(default_factory=dict)
    dashed: bool = False
    partial: dict[int, str] = field(default_factory=dict)  # year -> "delvis kartlagt: …": drawn apart


def line_chart(series: list[Series], years: list[int], fmt: NumberFormat, title: str) -> Markup:
    """One line per series over `years`; a year without a value breaks the line (a gap, never a zero). A
    partly mapped year (`Series.partial`) is an open square not joined to its neighbours: its figure covers
    only part of today's municipality."""
    left, right, top, bottom = 56, 16, 16, 56
    height = 260
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [float(f.value) for s in series for f in s.points.values() if f.shown and f.value is not None]
    y_max = _nice_max(max(values, default=0.0))
    step_x = plot_w / max(len(years) - 1, 1)

    def x_of(i: int) -> float:
        return left + i * step_x

    def y_of(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    body: list[str] = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa"/>']
    for tick in range(5):
        v = y_max * tick / 4
        y = y_of(v)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 6, y + 4, fmt.digits(v, 0 if y_max >= 10 else 1), "end", 11))
    for i, year in enumerate(years):
        body.append(_text(x_of(i), top + plot_h + 16, str(year), "middle", 11))
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        run: list[str] = []
        runs: list[list[str]] = []
        for i, year in enumerate(years):
            f = s.points.get(year)
            if f is not None and f.shown and f.value is not None and year not in s.partial:
                run.append(f"{x_of(i):.1f},{y_of(float(f.value)):.1f}")
            else:
                if run:
                    runs.append(run)
                run = []
        if run:
            runs.append(run)
        for r in runs:
            if len(r) > 1:
                body.append(
                    f'<polyline points="{" ".join(r)}" fill="none" stroke="{s.colour}" stroke-width="2.5"{dash}/>'
                )
        for i, year in enumerate(years):
            f = s.points.get(year)
            if f is None:
                continue
            if f.shown and f.value is not None and year in s.partial:
                x, y = x_of(i), y_of(float(f.value))
                body.append(
                    f'<rect class="partial" x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" fill="#fff" '
                    f'stroke="{s.colour}" stroke-width="2"><title>{escape(s.name)} {year}: {escape(fmt.text(f))} '
                    f"({escape(s.partial[year])})</title></rect>"
                )
            elif f.shown and f.value is not None:
                body.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{y_of(float(f.value)):.1f}" r="3.5" fill="{s.colour}">'
                    f"<title>{escape(s.name)} {year}: {escape(fmt.text(f))}</title></circle>"
                )
            elif f.withheld:
                note = f" ({s.partial[year]})" if year in s.partial else ""
                body.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{top + plot_h - 4:.1f}" r="3.5" fill="none" '
                    f'stroke="{s.colour}"><title>{escape(s.name)} {year}: {escape(fmt.text(f) + note)}</title></circle>'
                )
    legend_y = height - 14
    x = left
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        body.append(
            f'<line x1="{x}" x2="{x + 22}" y1="{legend_y - 4}" y2="{legend_y - 4}" stroke="{s.colour}" '
            f'stroke-width="2.5"{dash}/>'
        )
        body.append(_text(x + 28, legend_y, s.name, size=11))
        x += 40 + 7 * len(s.name)
    return _svg(height, body, title)


HATCH_STEP, HATCH_WIDTH = 6.0, 1.5  # grey stripes at 45°, 1.5 wide every 6 (across the stripes)


def hatched(x: float, y: float, width: float, height: float) -> str:
    """A withheld bar: light grey with darker diagonal stripes, drawn as plain lines in a nested <svg> that
    clips them to the bar. It looks like a rotated <pattern> fill but prints far cheaper: Chromium turns every
    pattern-filled shape of a PDF into its own tiled raster (about a quarter of a page's printing time and
    half of its PDF's bytes, docs/decisions.md R12). The stripes lie on the lines x + y = √2 · 6 · (k + 1/8)
    of the chart's coordinates, so neighbouring bars line up as one pattern would."""
    offset = HATCH_STEP * math.sqrt(2)
    first = math.floor((x + y) / offset) - 1
    last = math.ceil((x + width + y + height) / offset) + 1
    lines = []
    for k in range(first, last + 1):
        c = (k + HATCH_WIDTH / HATCH_STEP / 2) * offset  # the centre line of stripe k: x + y = c
        lines.append(f"M{c - y:.2f} {y:g}L{c - y - height:.2f} {y + height:g}")
    box = f"{x:g} {y:g} {width:g} {height:g}"
    return (
        f'<svg class="hatched" x="{x:g}" y="{y:g}" width="{width:g}" height="{height:g}" viewBox="{box}">'
        f'<rect x="{x:g}" y="{y:g}" width="{width:g}" height="{height:g}" fill="#eee"/>'
        f'<path d="{"".join(lines)}" stroke="#bbb" stroke-width="{HATCH_WIDTH:g}"/></svg>'
    )


@dataclass
class StackedBar:
    label: str
    segments: list[tuple[str, str, Figure]]  # (colour name, legend text, share)
    withheld: bool = False
    missing: bool = False


def stacked_bars(
    bars: list[StackedBar], palette: dict[str, str], fmt: NumberFormat, title: str, withheld_text: str
) -> Markup:
    """Horizontal 100 % bars, one per row; a bar with a withheld share is drawn hatched and not split."""
    label_w, right, bar_h, gap, top = 170, 12, 20, 8, 6
    plot_w = WIDTH - label_w - right
    height = top + len(bars) * (bar_h + gap) + 4
    body: list[str] = []
    for i, bar in enumerate(bars):
        y = top + i * (bar_h + gap)
        body.append(_text(label_w - 8, y + bar_h - 6, bar.label, "end"))
        if bar.withheld:
            body.append(hatched(label_w, y, plot_w, bar_h))
            body.append(_text(label_w + 8, y + bar_h - 6, withheld_text, size=11))
            continue
        if bar.missing:
            body.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{bar_h}" fill="#f4f4f4"/>')
            body.append(_text(label_w + 8, y + bar_h - 6, "..", size=11))
            continue
        x = float(label_w)
        for colour, legend, share in bar.segments:
            if not share.shown or share.value is None or share.value <= 0:
                continue
            w = plot_w * float(share.value)
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{palette[colour]}">'
                f"<title>{escape(bar.label)}, {escape(legend)}: {escape(fmt.text(share))}</title></rect>"
            )
            if w > 34:
                ink = "#fff" if colour in ("red", "blue", "green") else "#222"
                body.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + bar_h - 6}" font-size="11" text-anchor="middle" '
                    f'fill="{ink}">{escape(fmt.text(share))}</text>'
                )
            x += w
    return _svg(height, body, title)


@dataclass
class BarGroup:
    label: str
    values: list[Figure]


def grouped_bars(
    groups: list[BarGroup], series: list[tuple[str, str]], fmt: NumberFormat, title: str, percent: bool = True
) -> Markup:
    """Horizontal grouped bars: per category one bar per series (name, colour). Withheld bars are not drawn
    and say so in text; values print at the end of the bar."""
    label_w, right, bar_h, inner, gap, top = 230, 60, 11, 2, 9, 6
    plot_w = WIDTH - label_w - right
    n = len(series)
    group_h = n * bar_h + (n - 1) * inner
    legend_h = 22
    height = top + len(groups) * (group_h + gap) + legend_h
    values = [float(f.value) for g in groups for f in g.values if f.shown and f.value is not None]
    x_max = 1.0 if percent else _nice_max(max(values, default=0.0))
    x_max = max(x_max, max(values, default=0.0))
    body: list[str] = []
    for i, group in enumerate(groups):
        y0 = top + i * (group_h + gap)
        body.append(_text(label_w - 8, y0 + group_h / 2 + 4, group.label, "end"))
        for j, (name, colour) in enumerate(series):
            f = group.values[j]
            y = y0 + j * (bar_h + inner)
            if f.shown and f.value is not None:
                w = plot_w * max(float(f.value), 0.0) / x_max if x_max else 0.0
                body.append(
                    f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                    f"<title>{escape(group.label)}, {escape(name)}: {escape(fmt.text(f))}</title></rect>"
                )
                body.append(_text(label_w + w + 4, y + bar_h - 2, fmt.text(f), size=10))
            else:
                body.append(_text(label_w + 4, y + bar_h - 2, fmt.text(f), size=10, cls="note"))
    ly = height - 8
    x = label_w
    for name, colour in series:
        body.append(f'<rect x="{x}" y="{ly - 10}" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, ly, name, size=11))
        x += 30 + 7 * len(name)
    return _svg(height, body, title)
