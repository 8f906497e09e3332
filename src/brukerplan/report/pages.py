"""The content of one report page (a geography in a mapping year) and of the index, from the published data,
rendered with the Jinja2 templates in templates/. Charts are inline SVG from `charts`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from brukerplan.report import charts
from brukerplan.report.config import TEMPLATES_DIR, KeyFigure, ReportConfig
from brukerplan.report.coverage import Coverage, partial_coverage
from brukerplan.report.figures import Figure, NumberFormat, cell, ratio, total
from brukerplan.report.guide import FIRED, NOT_MET, Guide, GuideEvaluator, Outcome, load_guide
from brukerplan.report.published import COUNTRY_CODE, Geography, Published

# The dimension whose labels name a value of a key column (a for_each line of the guide)
DIMENSION_OF = {"service_code": "service", "area": "area"}


@dataclass
class Column:
    """A geography a page shows figures for (the page's own, its county, the country) in one year."""

    geo: Geography
    year: int
    title: str
    note: str | None = None  # "delvis kartlagt: Klæbu" when only part of the municipality mapped that year

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
    def __init__(
        self,
        published: Published,
        config: ReportConfig,
        labels: dict[str, Any],
        lang: str,
        guide: Guide | None = None,
    ) -> None:
        self.published = published
        self.config = config
        self.labels = labels
        self.lang = lang
        self.guide = guide or load_guide(config)
        self.evaluator = GuideEvaluator(self.guide, published)
        self._coverage: dict[tuple[str, int], Coverage | None] = {}
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

    def names(self, names: tuple[str, ...] | list[str]) -> str:
        """ "A", "A og B", "A, B og C"."""
        names = list(names)
        if len(names) <= 1:
            return "".join(names)
        return f"{', '.join(names[:-1])} {self.labels['text']['and']} {names[-1]}"

    # -- partial coverage ----------------------------------------------------------------------------------
    def coverage(self, geo: Geography, year: int) -> Coverage | None:
        """The municipality's coverage in `year` when only some of its registered municipalities mapped."""
        if geo.level != "municipality":
            return None
        key = (geo.code, year)
        if key not in self._coverage:
            self._coverage[key] = partial_coverage(self.published, geo.code, year)
        return self._coverage[key]

    def partial_who(self, coverage: Coverage) -> str:
        """Who mapped: "Klæbu", or "1 av 2 kommuner" when the published file does not name them."""
        if coverage.mapped:
            return self.names(coverage.mapped)
        text = self.labels["text"]["partial_counts"]
        return str(text).format(participating=coverage.participating, in_force=coverage.in_force)

    def partial_text(self, coverage: Coverage) -> str:
        """ "delvis kartlagt: Klæbu" """
        return str(self.labels["text"]["partial"]).format(mapped=self.partial_who(coverage))

    def partial_notices(self, geo: Geography, year: int, previous: int | None) -> list[str]:
        """Notices at the top of a page: the year shown, and the previous mapping (the change compares with it)."""
        text = self.labels["text"]
        notices = []
        shown = self.coverage(geo, year)
        if shown is not None:
            values = {
                "year": year,
                "name": self.name(geo),
                "participating": shown.participating,
                "in_force": shown.in_force,
            }
            if shown.mapped:
                values |= {"mapped": self.names(shown.mapped), "not_mapped": self.names(shown.not_mapped)}
                notices.append(str(text["partial_notice"]).format(**values))
            else:
                notices.append(str(text["partial_notice_counts"]).format(**values))
        earlier = self.coverage(geo, previous) if previous is not None else None
        if earlier is not None:
            notices.append(str(text["partial_previous"]).format(year=previous, partial=self.partial_text(earlier)))
        same_area = shown is not None and earlier is not None and shown.mapped and shown.mapped == earlier.mapped
        if notices and previous is not None and not same_area:
            notices[-1] += " " + str(text["partial_change"]).format(year=previous)
        return notices

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
        coverage = self.coverage(geo, year)
        columns = [Column(geo, year, self.name(geo), self.partial_text(coverage) if coverage else None)]
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
        partial, who = {}, {}
        for y in years:
            coverage = self.coverage(geo, y) if y in geo.years else None
            if coverage is not None:
                partial[y], who[y] = self.partial_text(coverage), self.partial_who(coverage)
        rate_series = []
        for c, colour in zip(columns, ("geo", "county", "country"), strict=False):
            points = {}
            for y in years:
                if y in c.geo.years:
                    points[y] = self.trends(Column(c.geo, y, c.title), "rate_per_1000_16plus", "all", "rate")
            own_line = colour == "geo"
            rate_series.append(
                charts.Series(
                    c.title, palette[colour], points, dashed=not own_line, partial=partial if own_line else {}
                )
            )
        own = columns[0]
        table = []
        persons_series = []
        for group in self.config.trend_groups:
            points = {
                y: self.trends(Column(geo, y, own.title), "persons", group, "count") for y in years if y in geo.years
            }
            persons_series.append(
                charts.Series(self.group_label(group), self.config.series.get(group, "#333"), points, partial=partial)
            )
        for y in years:
            if y not in geo.years:
                table.append({"year": y, "mapped": False, "figures": [], "note": None})
                continue
            col = Column(geo, y, own.title)
            figures = [self.trends(col, "persons", g, "count") for g in self.config.trend_groups]
            figures.append(self.trends(col, "rate_per_1000_16plus", "all", "rate"))
            table.append({"year": y, "mapped": True, "figures": figures, "note": partial.get(y)})
        text = self.labels["text"]
        items = [f"{y}: {names}" for y, names in who.items()]
        return {
            "partial_note": str(text["partial_chart"]).format(items="; ".join(items)) if items else None,
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
        series = [
            (f"{c.title} ({c.note})" if c.note else c.title, self.config.palette[n])
            for c, n in zip(columns, names, strict=False)
        ]
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

    # -- the guide "Hva tallene kan bety" --------------------------------------------------------------------
    def factor_text(self, factor: float) -> str:
        return f"{factor:g}".replace(".", self.labels["locale"]["decimal"])

    def finding(self, outcome: Outcome, own: Column) -> dict[str, Any]:
        """A fired rule as shown: its texts, the rule it met and the figures that triggered it."""
        rule, texts = outcome.rule, self.guide.texts[self.lang]
        rule_texts = rule.texts[self.lang]
        references = self.names([texts["references"][r.level] for r in outcome.references])
        minimum = max(rule.minimum_count, self.published.threshold)
        statement = str(texts[rule.comparison]).format(
            factor=self.factor_text(rule.factor), references=references, minimum=minimum
        )
        measure_label = rule_texts["measure_label"]
        if outcome.year is not None and outcome.year != own.year:
            measure_label = f"{measure_label} ({outcome.year} → {own.year})"
        lines = [
            {
                "label": self.dim_label(DIMENSION_OF.get(rule.for_each, rule.for_each), str(line.value))
                if rule.for_each
                else None,
                "figure": line.figure,
                "count": line.count,
                "references": line.references,
                "reference_counts": line.reference_counts,
            }
            for line in outcome.lines
        ]
        return {
            "id": rule.id,
            "title": rule_texts["title"],
            "rule": str(texts["rule"]).format(id=rule.id),
            "statement": statement,
            "meaning": rule_texts["meaning"],
            "action": rule_texts["action"],
            "measure_label": measure_label,
            "count_label": rule_texts["count_label"],
            "item": texts["item"] if rule.for_each else None,
            "headers": [f"{own.title} ({own.note})" if own.note else own.title]
            + [self.name(r) for r in outcome.references],
            "lines": lines,
        }

    def guide_section(self, own: Column) -> dict[str, Any]:
        texts = self.guide.texts[self.lang]
        outcomes = self.evaluator.evaluate(own.geo, own.year)
        findings = [self.finding(o, own) for o in outcomes if o.status == FIRED]
        not_assessed = [o.rule.texts[self.lang]["title"] for o in outcomes if o.status not in (FIRED, NOT_MET)]
        return {
            "texts": texts,
            "findings": findings,
            "none": str(texts["none"]).format(name=self.name(own.geo), year=own.year),
            "not_assessed": str(texts["not_assessed"]).format(rules="; ".join(not_assessed)) if not_assessed else "",
            "checklist": self.guide.checklist[self.lang],
            "outcomes": {o.rule.id: o.status for o in outcomes},
        }

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
            "partial_notices": [],
            "section_note": None,
            "guide": None,
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
        previous = self.trends(own, "previous_mapping_year", "all", "year")
        previous_year = int(previous.value) if previous.shown and previous.value is not None else None
        coverage = self.coverage(geo, year)
        context.update(
            partial_notices=self.partial_notices(geo, year, previous_year),
            section_note=str(text["partial_section"]).format(
                year=year, partial=self.partial_text(coverage), name=self.name(geo)
            )
            if coverage
            else None,
            guide=self.guide_section(own) if geo.level == "municipality" else None,
        )
        context.update(
            sections=True,
            columns=columns,
            county=columns[1].geo if geo.level == "municipality" and len(columns) > 2 else None,
            key_rows=key_rows,
            headline=[r for h in self.config.headline for r in key_rows if r["id"] == h],
            previous=previous,
            trend=self.trend(geo, columns),
            living=self.living(own),
            housing=self.housing(columns),
            services=self.services(own),
            data_quality=self.data_quality(own),
        )
        return self.page_template.render(**context)

    def index(self, entries: list[dict[str, Any]], year: int, meta: dict[str, Any]) -> str:
        return self.index_template.render(entries=entries, year=year, meta=meta)
