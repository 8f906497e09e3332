"""The SVG charts and number formats on their own: gaps stay gaps, withheld values are never drawn or
printed as numbers, numbers print in the language's style."""

from __future__ import annotations

import re

import pytest

from brukerplan.report.charts import BarGroup, Series, StackedBar, grouped_bars, line_chart, stacked_bars
from brukerplan.report.figures import Figure, NumberFormat

NB = NumberFormat(",", "\u00a0", "\u00a0%", 5)
EN = NumberFormat(".", ",", "%", 5)


def shown(value: float, kind: str = "count") -> Figure:
    return Figure(value, kind)


def test_line_breaks_at_a_year_without_mapping() -> None:
    years = [2013, 2014, 2015, 2016, 2017]
    series = Series("A", "#000", {2013: shown(10), 2014: shown(12), 2016: shown(14), 2017: shown(15)})
    svg = str(line_chart([series], years, NB, "t"))
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(lines) == 2  # 2013-2014 and 2016-2017: no line through 2015
    assert [len(p.split()) for p in lines] == [2, 2]
    assert svg.count("<circle") == 4  # no marker at all for 2015, in particular none at zero


def test_withheld_point_is_not_drawn_as_a_value() -> None:
    years = [2013, 2014, 2015]
    series = Series("A", "#000", {2013: shown(10), 2014: Figure(None, "count", withheld=True), 2015: shown(12)})
    svg = str(line_chart([series], years, NB, "t"))
    assert len(re.findall(r"<polyline", svg)) == 0  # two isolated points, no segment through the withheld year
    assert "A 2014: &lt;5" in svg
    assert 'fill="none"' in svg  # the hollow marker that says "withheld"


def test_partly_mapped_year_is_an_open_square_not_joined_to_the_line() -> None:
    years = [2014, 2015, 2016, 2017]
    points = {2014: shown(800), 2015: shown(846), 2016: shown(69), 2017: shown(850)}
    series = Series("Trondheim", "#000", points, partial={2016: "delvis kartlagt: Klæbu"})
    svg = str(line_chart([series], years, NB, "t"))
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert [len(p.split()) for p in lines] == [2]  # 2014-2015 only: nothing drawn into or out of 2016
    assert svg.count("<circle") == 3
    [square] = re.findall(r'<rect class="partial"[^>]*><title>([^<]*)</title>', svg)
    assert square == "Trondheim 2016: 69 (delvis kartlagt: Klæbu)"
    points[2016] = Figure(None, "count", withheld=True)  # withheld: the hollow marker on the axis says it too
    svg = str(line_chart([series], years, NB, "t"))
    assert 'class="partial"' not in svg and "Trondheim 2016: &lt;5 (delvis kartlagt: Klæbu)" in svg


def test_stacked_bar_with_withheld_share_is_hatched_and_unlabelled() -> None:
    bars = [
        StackedBar("Bolig", [("green", "g", shown(0.5, "share")), ("red", "r", shown(0.5, "share"))]),
        StackedBar("Økonomi", [("green", "g", Figure(None, "share", withheld=True))], withheld=True),
    ]
    svg = str(stacked_bars(bars, {"green": "#0f0", "red": "#f00"}, NB, "t", "<5 / :"))
    assert svg.count('class="hatched"') == 1  # one hatched bar: grey with diagonal stripes clipped to it
    [hatch] = re.findall(r'<svg class="hatched" x="170" y="34" width="538" height="20"[^>]*>(.*?)</svg>', svg)
    assert '<rect x="170" y="34" width="538" height="20" fill="#eee"/>' in hatch
    stripes = re.findall(r"M([-\d.]+) ([-\d.]+)L([-\d.]+) ([-\d.]+)", hatch)
    assert len(stripes) > 538 / 8.5  # a stripe every 6·√2 along the bar, none left out
    assert all(float(x0) + float(y0) == pytest.approx(float(x1) + float(y1), abs=0.02) for x0, y0, x1, y1 in stripes)
    assert "50\u00a0%" in svg
    assert "Økonomi, g" not in svg  # the withheld bar is not split into colours


def test_grouped_bars_print_withheld_as_symbol() -> None:
    groups = [BarGroup("LAR", [shown(0.25, "share"), Figure(None, "share", withheld=True)])]
    svg = str(grouped_bars(groups, [("Mottatt", "#111"), ("Anbefalt", "#222")], NB, "t"))
    assert "25\u00a0%" in svg
    assert svg.count("<rect") == 1 + 2  # one bar + two legend swatches
    assert ">:</text>" in svg


def test_number_formats() -> None:
    assert NB.text(shown(1234567)) == "1\u00a0234\u00a0567"
    assert EN.text(shown(1234567)) == "1,234,567"
    assert NB.text(shown(6.66, "rate")) == "6,7"
    assert EN.text(shown(6.66, "rate")) == "6.7"
    assert NB.text(shown(0.234, "share")) == "23\u00a0%"
    assert NB.text(shown(0.034, "share")) == "3,4\u00a0%"
    assert NB.text(shown(-12, "change")) == "−12"
    assert NB.text(shown(12, "change")) == "+12"
    assert NB.text(shown(0, "change")) == "±0"
    assert NB.text(shown(0)) == "0"
    assert NB.text(Figure(None, "count", withheld=True)) == "<5"
    assert NB.text(Figure(None, "rate", withheld=True)) == ":"
    assert NB.text(Figure(None, "count", missing=True)) == ".."
    html = str(NB.html(Figure(None, "count", withheld=True)))
    assert 'data-withheld="true"' in html and "data-value" not in html and "&lt;5" in html
