"""The guide "Hva tallene kan bety" (warehouse.md "What the figures may mean (reports)"): findings for a
municipality that meet the rules declared in guide.yaml, each with the figures that triggered it. One generic
evaluation for every rule (the YAML names table, key, measure, count, comparison, references, factor and
minimum count); nothing here knows a single rule.

A rule fires for a municipality and year when its figure is above (below) factor × the same figure of every
reference (county, country), its count is at least max(minimum count, suppression threshold), and none of the
cells involved is withheld or missing: a NULL in the published file never takes part in a finding."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from brukerplan.report.config import HERE, LANGUAGES, ConfigError, ReportConfig
from brukerplan.report.figures import Figure, cell, ratio, total
from brukerplan.report.published import COUNTRY_CODE, Geography, Published

GUIDE_YAML = HERE / "guide.yaml"
GEO_KEYS = ("geo_level", "geo_code", "mapping_year")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {"above": operator.gt, "below": operator.lt}
YEARS = ("shown", "previous_mapping")
REFERENCE_LEVELS = ("county", "country")
RULE_TEXTS = ("title", "measure_label", "count_label", "meaning", "action")

# Outcome of a rule (or one line of a for_each rule), in the order the lines' statuses are reported
FIRED = "fired"
NOT_MET = "not_met"  # every figure shown, the comparison does not hold
TOO_FEW = "too_few"  # the municipality's count is under the minimum
WITHHELD = "withheld"  # the municipality's figure or count is withheld (NULL)
REFERENCE_WITHHELD = "reference_withheld"  # a reference's figure is withheld or missing
NO_DATA = "no_data"  # no row: not mapped, the service not asked, no previous mapping to follow up
STATUS_ORDER = (FIRED, NOT_MET, TOO_FEW, WITHHELD, REFERENCE_WITHHELD, NO_DATA)


@dataclass(frozen=True)
class Rule:
    id: str
    table: str
    key: tuple[tuple[str, tuple[Any, ...]], ...]  # column -> values (several values: the cells are added up)
    for_each: str | None
    year: str  # shown | previous_mapping
    measure: str | None
    ratio: tuple[str, str] | None
    count: str
    comparison: str
    factor: float
    references: tuple[str, ...]
    minimum_count: int
    texts: dict[str, dict[str, str]]  # language -> title, measure_label, count_label, meaning, action

    @property
    def group(self) -> str:
        values = dict(self.key).get("user_group", ("all",))
        return str(values[0])


@dataclass(frozen=True)
class Guide:
    rules: tuple[Rule, ...]
    checklist: dict[str, tuple[str, ...]]
    texts: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Line:
    """One figure a rule tried: the municipality's figure and count and the references' (for a for_each rule,
    one per value of the key column)."""

    value: Any  # the for_each value (e.g. a service code), None otherwise
    figure: Figure
    count: Figure
    references: tuple[Figure, ...]
    reference_counts: tuple[Figure, ...]
    status: str


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    status: str
    year: int | None  # the mapping year of the rows read (the previous mapping for a follow-up rule)
    references: tuple[Geography, ...]
    lines: tuple[Line, ...]  # the lines that fired when the rule fired, else every line tried

    @property
    def fired(self) -> bool:
        return self.status == FIRED


def _values(raw: Any) -> tuple[Any, ...]:
    return tuple(raw) if isinstance(raw, list | tuple) else (raw,)


def _rule(raw: dict[str, Any], defaults: dict[str, Any], config: ReportConfig) -> Rule:
    rule_id = str(raw.get("id", "?"))
    where = f"guide.yaml: rule {rule_id!r}"
    try:
        table, count, comparison = str(raw["table"]), str(raw["count"]), str(raw["comparison"])
        factor = float(raw["factor"])
        measure_raw = raw["measure"]
    except KeyError as exc:
        raise ConfigError(f"{where} lacks {exc}") from exc
    if table not in config.tables:
        raise ConfigError(f"{where}: table {table!r} is not one of report.yaml's tables {sorted(config.tables)}")
    if comparison not in COMPARISONS:
        raise ConfigError(f"{where}: comparison {comparison!r}, expected one of {sorted(COMPARISONS)}")
    year = str(raw.get("year", "shown"))
    if year not in YEARS:
        raise ConfigError(f"{where}: year {year!r}, expected one of {list(YEARS)}")
    references = tuple(str(r) for r in raw.get("references", defaults["references"]))
    unknown = [r for r in references if r not in REFERENCE_LEVELS]
    if unknown or not references:
        raise ConfigError(f"{where}: references {list(references)}, expected some of {list(REFERENCE_LEVELS)}")
    key = tuple((str(k), _values(v)) for k, v in (raw.get("key") or {}).items())
    for_each = raw.get("for_each")
    named = [k for k, _ in key] + ([str(for_each)] if for_each else [])
    expected = [k for k in config.tables[table] if k not in GEO_KEYS]
    if sorted(named) != sorted(expected):
        raise ConfigError(f"{where}: key and for_each must name {expected} (the key of {table}), got {named}")
    if year == "previous_mapping" and "user_group" not in dict(key):
        raise ConfigError(f"{where}: year previous_mapping needs a user_group in the key")
    ratio_columns = None
    measure = None
    if isinstance(measure_raw, dict):
        parts = measure_raw.get("ratio")
        if not isinstance(parts, list) or len(parts) != 2:
            raise ConfigError(f"{where}: measure must be a column or {{ratio: [numerator, denominator]}}")
        ratio_columns = (str(parts[0]), str(parts[1]))
        if any(len(values) > 1 for _, values in key):
            raise ConfigError(f"{where}: a ratio measure cannot add up several key values")
    else:
        measure = str(measure_raw)
    texts = {}
    for lang in LANGUAGES:
        text = raw.get(lang) or {}
        missing = [t for t in RULE_TEXTS if not text.get(t)]
        if missing:
            raise ConfigError(f"{where}: texts {missing} missing for language {lang!r}")
        texts[lang] = {t: str(text[t]) for t in RULE_TEXTS}
    return Rule(
        id=rule_id,
        table=table,
        key=key,
        for_each=str(for_each) if for_each else None,
        year=year,
        measure=measure,
        ratio=ratio_columns,
        count=count,
        comparison=comparison,
        factor=factor,
        references=references,
        minimum_count=int(raw.get("minimum_count", defaults["minimum_count"])),
        texts=texts,
    )


def load_guide(config: ReportConfig, path: Path = GUIDE_YAML) -> Guide:
    """Read and check guide.yaml: every rule's table and key against report.yaml, its texts in every language."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = {"minimum_count": int(raw.get("minimum_count", 10)), "references": raw.get("references")}
    defaults["references"] = defaults["references"] or list(REFERENCE_LEVELS)
    rules = tuple(_rule(r, defaults, config) for r in raw.get("rules") or [])
    ids = [r.id for r in rules]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ConfigError(f"guide.yaml: rule ids {duplicated} are used more than once")
    checklist = {lang: tuple(str(t) for t in (raw.get("checklist") or {}).get(lang) or ()) for lang in LANGUAGES}
    texts = raw.get("texts") or {}
    for lang in LANGUAGES:
        if not checklist[lang] or lang not in texts:
            raise ConfigError(f"guide.yaml: checklist or texts missing for language {lang!r}")
    return Guide(rules=rules, checklist=checklist, texts={lang: texts[lang] for lang in LANGUAGES})


class GuideEvaluator:
    """Evaluates the guide's rules for municipalities of one published file."""

    def __init__(self, guide: Guide, published: Published) -> None:
        self.guide = guide
        self.published = published
        self._for_each: dict[tuple[str, str], tuple[Any, ...]] = {}
        counties: dict[str, set[str]] = {}
        for entries in published.municipalities.values():
            for entry in entries:
                code = str(entry.get("municipality_code") or "")
                if code:
                    counties.setdefault(str(entry.get("county_code") or code[:2]), set()).add(code)
        self._county_members = counties

    @property
    def minimum_floor(self) -> int:
        return self.published.threshold

    def references(self, rule: Rule, geo: Geography) -> tuple[Geography, ...]:
        """The rule's reference geographies for `geo`; a county made of `geo` alone is no reference."""
        found = []
        for level in rule.references:
            if level == "county":
                if not geo.county_code or self._county_members.get(geo.county_code) == {geo.code}:
                    continue
                county = self.published.geography("county", geo.county_code)
                if county is not None:
                    found.append(county)
            else:
                found.append(
                    self.published.geography("country", COUNTRY_CODE) or Geography("country", COUNTRY_CODE, "", None)
                )
        return tuple(found)

    def for_each_values(self, rule: Rule) -> tuple[Any, ...]:
        if rule.for_each is None:
            return (None,)
        cached = self._for_each.get((rule.table, rule.for_each))
        if cached is None:
            position = self.published.keys[rule.table].index(rule.for_each)
            cached = tuple(sorted({k[position] for k in self.published.tables[rule.table]}, key=str))
            self._for_each[(rule.table, rule.for_each)] = cached
        return cached

    def _keys(self, rule: Rule, geo: Geography, year: int, value: Any) -> list[dict[str, Any]]:
        """The cells (one per combination of the key's values) that make up the rule's figure for `geo`."""
        columns = [k for k, _ in rule.key]
        combos = itertools.product(*(values for _, values in rule.key))
        base = {"geo_level": geo.level, "geo_code": geo.code, "mapping_year": year}
        if rule.for_each:
            base[rule.for_each] = value
        return [{**base, **dict(zip(columns, combo, strict=True))} for combo in combos]

    def _figures(self, rule: Rule, keys: list[dict[str, Any]]) -> tuple[Figure, Figure, bool]:
        """(figure, count, whether every row exists) for the cells of `keys`."""
        exists = all(self.published.row(rule.table, **k) is not None for k in keys)
        counts = [cell(self.published, rule.table, rule.count, "count", **k) for k in keys]
        count = counts[0] if len(counts) == 1 else total(counts, "count")
        if rule.ratio is not None:
            numerator = cell(self.published, rule.table, rule.ratio[0], "count", **keys[0])
            denominator = cell(self.published, rule.table, rule.ratio[1], "count", **keys[0])
            figure = ratio(numerator, denominator, "share")
        else:
            assert rule.measure is not None
            parts = [cell(self.published, rule.table, rule.measure, "share", **k) for k in keys]
            figure = parts[0] if len(parts) == 1 else total(parts, "share")
        return figure, count, exists

    def _year(self, rule: Rule, geo: Geography, year: int) -> int | None:
        if rule.year == "shown":
            return year
        previous = cell(
            self.published,
            "mart_trends",
            "previous_mapping_year",
            "year",
            geo_level=geo.level,
            geo_code=geo.code,
            mapping_year=year,
            user_group=rule.group,
        )
        return int(previous.value) if previous.shown and previous.value is not None else None

    def _followed_up_now(self, rule: Rule, key: dict[str, Any], shown_year: int) -> bool:
        """A row of the previous mapping counts only when its follow-up is this mapping and the service was
        asked then (mart_services next_mapping_year, is_asked_at_next_mapping; decisions M4)."""
        row = self.published.row(rule.table, **key)
        if row is None or row.get("next_mapping_year") is None:
            return False
        return int(row.get("next_mapping_year")) == shown_year and row.get("is_asked_at_next_mapping") is not False

    def _line(
        self, rule: Rule, geo: Geography, year: int, shown_year: int, value: Any, references: tuple[Geography, ...]
    ) -> Line:
        keys = self._keys(rule, geo, year, value)
        figure, count, exists = self._figures(rule, keys)
        ref_figures = [self._figures(rule, self._keys(rule, r, year, value)) for r in references]
        refs = tuple(f for f, _, _ in ref_figures)
        ref_counts = tuple(c for _, c, _ in ref_figures)

        def line(status: str) -> Line:
            return Line(value, figure, count, refs, ref_counts, status)

        if not exists:
            return line(NO_DATA)
        if rule.year == "previous_mapping" and not self._followed_up_now(rule, keys[0], shown_year):
            return line(NO_DATA)
        if not count.shown:
            return line(WITHHELD)  # the row exists: a NULL count is withheld
        if float(count.value or 0) < max(rule.minimum_count, self.minimum_floor):
            return line(TOO_FEW)
        if not figure.shown:
            return line(WITHHELD)
        if not refs or any(not r.shown for r in refs):
            return line(REFERENCE_WITHHELD)
        compare = COMPARISONS[rule.comparison]
        met = all(compare(float(figure.value or 0), rule.factor * float(r.value or 0)) for r in refs)
        return line(FIRED if met else NOT_MET)

    def evaluate_rule(self, rule: Rule, geo: Geography, year: int) -> Outcome:
        references = self.references(rule, geo)
        row_year = self._year(rule, geo, year)
        if row_year is None:
            return Outcome(rule, NO_DATA, None, references, ())
        lines = [self._line(rule, geo, row_year, year, v, references) for v in self.for_each_values(rule)]
        status = min((line.status for line in lines), key=STATUS_ORDER.index, default=NO_DATA)
        if status == FIRED:
            sign = -1.0 if rule.comparison == "above" else 1.0
            fired = sorted((x for x in lines if x.status == FIRED), key=lambda x: sign * float(x.figure.value or 0))
            return Outcome(rule, FIRED, row_year, references, tuple(fired))
        return Outcome(rule, status, row_year, references, tuple(lines))

    def evaluate(self, geo: Geography, year: int) -> list[Outcome]:
        """Every rule's outcome for a municipality in a mapping year, in the order of guide.yaml."""
        return [self.evaluate_rule(rule, geo, year) for rule in self.guide.rules]
