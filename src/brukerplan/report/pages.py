"""The content of one report page (a geography in a mapping year) and of the index, from the published data,
rendered with the Jinja2 templates in templates/. Charts are inline SVG from `charts`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from brukerplan.report import charts
from brukerplan.report.config import TEMPLATES_DIR, KeyFigure, ReportConfig
from brukerplan.report.figures import Figure, NumberFormat, cell, ratio, total
from brukerplan.report.published import COUNTRY_CODE, Geography, Published


@dataclass
class Column:
    """A geography a page shows figures for (the page's own, its county, the country) in one year."""

    geo: Geography
    year: int
    title: str

    def key(self, **extra: Any) -> dict[str, Any]:
        return {"geo_level": self.geo.level, "geo_code": self.geo.code, "mapping_year": self.year, **extra}


def shown_year(geo: Geography, year: int) -> int | None:
    """The mapping year a page shows: the requested year, or the geography's latest mapping before it."""
    earlier = [y for y in geo.years if y <= year]
    return max(earlier) if earlier else None


def make_format(labels: dict[str, Any], threshold: int) -> NumberFormat:
    locale = labels["locale"]
    return NumberFormat(locale["decimal"], locale["thousands"], locale["percent"], threshold)


class PageBuilder:
    def __init__(self, published: Published, config: ReportConfig, labels: dict[str, Any], lang: str) -> None:
        self.published = published
        self.config = config
        self.labels = labels
        self.lang = lang
        self.fmt = make_format(labels, published.threshold)
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATES_DIR)),
            autoescape=select_autoescape(["html", "j2"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(fig=self.fmt.html, L=labels, lang=lang, palette=config.palette)
        self.page_template = self.env.get_template("page.html.j2")
        self.index_template = self.env.get_template("index.html.j2")
        country = published.geography("country", COUNTRY_CODE)
        self.country = country or Geography("country", COUNTRY_CODE, labels["country_name"], None)

    # -- names ---------------------------------------------------------------------------------------------
    def name(self, geo: Geography) -> str:
        return self.labels["country_name"] if geo.level == "country" else geo.name

    def group_label(self, group: str) -> str:
        return str(self.labels["groups"].get(group, group))

    def dim_label(self, dimension: str, code: str) -> str:
        entry = self.published.labels.get(dimension, {}).get(code, {})
        for column in (f"label_{self.lang}", f"name_{self.lang}"):
            if entry.get(column):
                return str(entry[column])
        if dimension == "area":
            return str(self.labels["areas"].get(code, code))
        return code

    # -- figures -------------------------------------------------------------------------------------------
    def trends(self, column: Column, field_name: str, group: str, kind: str) -> Figure:
        return cell(self.published, "mart_trends", field_name, kind, **column.key(user_group=group))

    def key_figure(self, spec: KeyFigure, column: Column) -> Figure:
        def one(ref: Any) -> Figure:
            extra: dict[str, Any] = {"user_group": ref.group or spec.group}
            if ref.area is not None:
                extra["area"] = ref.area
            if ref.colour is not None:
                extra["colour"] = ref.colour
            return cell(self.published, ref.table, ref.column, spec.kind, **column.key(**extra))

        if spec.ratio is not None:
            return ratio(one(spec.ratio[0]), one(spec.ratio[1]), spec.kind)
        if spec.parts:
            return total([one(p) for p in spec.parts], spec.kind)
        assert spec.cell is not None
        return one(spec.cell)

    # -- sections ------------------------------------------------------------------------------------------
    def columns_for(self, geo: Geography, year: int) -> list[Column]:
        columns = [Column(geo, year, self.name(geo))]
        if geo.level == "municipality" and geo.county_code:
            county = self.published.geography("county", geo.county_code)
            if county is not None:
                columns.append(Column(county, year, self.name(county)))
        if geo.level != "country":
            columns.append(Column(self.country, year, self.name(self.country)))
        return columns

    def key_figures(self, columns: list[Column]) -> list[dict[str, Any]]:
        rows = []
        for spec in self.config.key_figures:
            figures = [self.key_figure(spec, c) for c in columns]
            previous = (
                [self.trends(c, "previous_mapping_year", spec.group, "year") for c in columns] if spec.previous else []
            )
            rows.append(
                {
                    "id": f"{spec.label}/{spec.group}",
                    "label": self.labels["key"][spec.label],
                    "group": self.group_label(spec.group),
                    "figures": figures,
                    "previous": previous,
                }
            )
        return rows

    def trend(self, geo: Geography, columns: list[Column]) -> dict[str, Any]:
        years = list(range(min(self.published.years), max(self.published.years) + 1))
        palette = self.config.palette
        rate_series = []
        for c, colour in zip(columns, ("geo", "county", "country"), strict=False):
            points = {}
            for y in years:
                if y in c.geo.years:
                    points[y] = self.trends(Column(c.geo, y, c.title), "rate_per_1000_16plus", "all", "rate")
            rate_series.append(charts.Series(c.title, palette[colour], points, dashed=colour != "geo"))
        own = columns[0]
        table = []
        persons_series = []
        for group in self.config.trend_groups:
            points = {
                y: self.trends(Column(geo, y, own.title), "persons", group, "count") for y in years if y in geo.years
            }
            persons_series.append(charts.Series(self.group_label(group), self.config.series.get(group, "#333"), points))
        for y in years:
            if y not in geo.years:
                table.append({"year": y, "mapped": False, "figures": []})
                continue
            col = Column(geo, y, own.title)
            figures = [self.trends(col, "persons", g, "count") for g in self.config.trend_groups]
            figures.append(self.trends(col, "rate_per_1000_16plus", "all", "rate"))
            table.append({"year": y, "mapped": True, "figures": figures})
        text = self.labels["text"]
        return {
            "rate_chart": charts.line_chart(rate_series, years, self.fmt, text["trend_rate"]),
            "persons_chart": charts.line_chart(persons_series, years, self.fmt, text["trend_persons"]),
            "table": table,
            "groups": [self.group_label(g) for g in self.config.trend_groups],
        }

    def living(self, column: Column) -> list[dict[str, Any]]:
        sections = []
        for group in self.config.living_condition_groups:
            bars, rows = [], []
            for area in self.config.areas:
                figures = {}
                for colour in self.config.colours:
                    if colour == "blue" and area != "living_index":
                        continue
                    key = column.key(user_group=group, area=area, colour=colour)
                    share = cell(self.published, "mart_living_conditions", "share", "share", **key)
                    persons = cell(self.published, "mart_living_conditions", "persons", "count", **key)
                    figures[colour] = (share, persons)
                known = [c for c in figures if c != "unknown"]
                withheld = any(figures[c][0].withheld for c in known)
                missing = all(figures[c][0].missing for c in known)
                label = self.dim_label("area", area)
                segments = [(c, self.labels["colours"][c], figures[c][0]) for c in known]
                bars.append(charts.StackedBar(label, segments, withheld=withheld, missing=missing and not withheld))
                rows.append({"label": label, "area": area, "figures": figures})
            title = f"{self.labels['text']['living']} – {self.group_label(group)}"
            chart = charts.stacked_bars(bars, self.config.palette, self.fmt, title, f"<{self.published.threshold} / :")
            sections.append({"group": self.group_label(group), "chart": chart, "rows": rows})
        return sections

    def housing(self, columns: list[Column]) -> dict[str, Any]:
        own = columns[0]
        rows, groups = [], []
        for group in self.config.housing_groups:
            figures = [
                cell(self.published, "mart_housing", name, kind, **own.key(user_group=group))
                for name, kind in self.config.housing_columns
            ]
            compare = [
                cell(self.published, "mart_housing", "share_red_yellow", "share", **c.key(user_group=group))
                for c in columns[1:]
            ]
            rows.append({"group": self.group_label(group), "figures": figures, "compare": compare})
            shares = [
                cell(self.published, "mart_housing", "share_red_yellow", "share", **c.key(user_group=group))
                for c in columns
            ]
            groups.append(charts.BarGroup(self.group_label(group), shares))
        names = ("geo", "county", "country")
        series = [(c.title, self.config.palette[n]) for c, n in zip(columns, names, strict=False)]
        chart = charts.grouped_bars(groups, series, self.fmt, self.labels["housing"]["share_red_yellow"], percent=True)
        return {
            "headers": [self.labels["housing"][name] for name, _ in self.config.housing_columns],
            "compare_headers": [c.title for c in columns[1:]],
            "rows": rows,
            "chart": chart,
        }

    def services(self, column: Column) -> list[dict[str, Any]]:
        text = self.labels["text"]
        sections = []
        for group in self.config.service_groups:
            key_of = column.key(user_group=group)
            persons = self.trends(column, "persons", group, "count")
            bar_groups, rows = [], []
            for service in self.published.service_order:
                row = self.published.row("mart_services", **key_of, service_code=service)
                if row is None:
                    continue
                key = {**key_of, "service_code": service}
                received = cell(self.published, "mart_services", "received", "count", **key)
                recommended = cell(self.published, "mart_services", "recommended", "count", **key)
                gap = cell(self.published, "mart_services", "gap", "change", **key)
                if "share_received" in row.values:
                    share_received = cell(self.published, "mart_services", "share_received", "share", **key)
                    share_recommended = cell(self.published, "mart_services", "share_recommended", "share", **key)
                else:
                    share_received = ratio(received, persons)
                    share_recommended = ratio(recommended, persons)
                label = self.dim_label("service", service)
                bar_groups.append(charts.BarGroup(label, [share_received, share_recommended]))
                rows.append(
                    {
                        "label": label,
                        "received": received,
                        "recommended": recommended,
                        "gap": gap,
                        "share_received": share_received,
                        "share_recommended": share_recommended,
                    }
                )
            gaps = sorted(
                (r for r in rows if r["gap"].shown and r["gap"].value and r["gap"].value > 0),
                key=lambda r: -float(r["gap"].value),
            )[: self.config.largest_gaps]
            chart = (
                charts.grouped_bars(
                    bar_groups,
                    [
                        (text["received"], self.config.palette["received"]),
                        (text["recommended"], self.config.palette["recommended"]),
                    ],
                    self.fmt,
                    f"{text['services_share']} – {self.group_label(group)}",
                )
                if bar_groups
                else None
            )
            sections.append(
                {
                    "group": self.group_label(group),
                    "chart": chart,
                    "rows": rows,
                    "gaps": gaps,
                    "next": self.next_mapping(column, group),
                }
            )
        return sections

    def next_mapping(self, column: Column, group: str) -> dict[str, Any] | None:
        """The previous mapping's recommendations followed up at this mapping: of the persons recommended a
        service then and mapped again now, how many received it now (mart_services, decision M4)."""
        previous = self.trends(column, "previous_mapping_year", group, "year")
        if not previous.shown or previous.value is None:
            return None
        prev_year = int(previous.value)
        prev = Column(column.geo, prev_year, column.title)
        rows = []
        for service in self.published.service_order:
            row = self.published.row("mart_services", **prev.key(user_group=group), service_code=service)
            if row is None or row.get("next_mapping_year") != column.year:
                continue
            if row.get("is_asked_at_next_mapping") is False:
                continue
            key = prev.key(user_group=group, service_code=service)

            def one(name: str, key: dict[str, Any] = key) -> Figure:
                return cell(self.published, "mart_services", name, "count", **key)

            recommended = one("recommended")
            again = one("recommended_mapped_again_at_next_mapping")
            received = one("recommended_received_at_next_mapping")
            rows.append(
                {
                    "label": self.dim_label("service", service),
                    "recommended": recommended,
                    "again": again,
                    "received": received,
                    "share": ratio(received, again),
                    "order": -(float(recommended.value) if recommended.shown and recommended.value else -1.0),
                }
            )
        rows.sort(key=lambda r: r["order"])
        return {"previous_year": prev_year, "rows": rows}

    def data_quality(self, column: Column) -> list[dict[str, Any]]:
        labels = self.labels["dq"]
        items = []
        for name in ("submissions", "agencies"):
            items.append(
                {
                    "label": labels[name],
                    "figure": cell(self.published, "mart_participation", name, "count", **column.key()),
                }
            )
        rows = self.published.data_quality.get((column.geo.level, column.geo.code, column.year), [])
        for name in self.config.data_quality_columns:
            parts = []
            if rows and name not in rows[0].values:
                continue  # not in this published file
            for row in rows:
                key = {k: row.get(k) for k in self.published.keys["mart_data_quality"]}
                parts.append(cell(self.published, "mart_data_quality", name, "count", **key))
            items.append({"label": labels[name], "figure": total(parts, "count")})
        items.append(
            {
                "label": labels["persons_approximate"],
                "figure": self.trends(column, "persons_approximate", "all", "count"),
            }
        )
        return items

    # -- pages ---------------------------------------------------------------------------------------------
    def page(self, geo: Geography, year_requested: int, links: dict[str, str], meta: dict[str, Any]) -> str:
        year = shown_year(geo, year_requested)
        text = self.labels["text"]
        context: dict[str, Any] = {
            "geo": geo,
            "name": self.name(geo),
            "level": self.labels["level"][geo.level],
            "year": year,
            "year_requested": year_requested,
            "notice": None,
            "links": links,
            "meta": meta,
            "threshold": self.published.threshold,
        }
        if year is None:
            context.update(columns=[], sections=False)
            return self.page_template.render(**context)
        if year != year_requested:
            context["notice"] = text["not_mapped_in_year"].format(name=self.name(geo), year=year_requested, shown=year)
        columns = self.columns_for(geo, year)
        own = columns[0]
        key_rows = self.key_figures(columns)
        context.update(
            sections=True,
            columns=columns,
            county=columns[1].geo if geo.level == "municipality" and len(columns) > 2 else None,
            key_rows=key_rows,
            headline=[r for h in self.config.headline for r in key_rows if r["id"] == h],
            previous=self.trends(own, "previous_mapping_year", "all", "year"),
            trend=self.trend(geo, columns),
            living=self.living(own),
            housing=self.housing(columns),
            services=self.services(own),
            data_quality=self.data_quality(own),
        )
        return self.page_template.render(**context)

    def index(self, entries: list[dict[str, Any]], year: int, meta: dict[str, Any]) -> str:
        return self.index_template.render(entries=entries, year=year, meta=meta)
