"""The guide "Hva tallene kan bety" (issue 14, "Done when"): every rule of guide.yaml fires, does not fire, does
not fire when its figure, its count or a reference is withheld (NULL), and not under its minimum count. Each
case is a tiny published file written here (tests/report/small_published.py) with the municipality Trondheim
(5001) in Trøndelag (50, with Stjørdal too) and the country, read by the report's own reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from brukerplan.report import build_reports
from brukerplan.report.config import ConfigError, load_config
from brukerplan.report.guide import GUIDE_YAML, GuideEvaluator, Outcome, load_guide
from brukerplan.report.published import load_published
from tests.report.readback import figures_of
from tests.report.small_published import geo, write_published
from tests.support import settings_under

YEAR, PREVIOUS = 2024, 2022
TRONDELAG = [
    {"registered": "5001", "name": "Trondheim", "code": "5001", "valid_from": "2018-01-01"},
    {"registered": "5035", "name": "Stjørdal", "code": "5035", "valid_from": "2018-01-01"},
]
OSLO = [{"registered": "0301", "name": "Oslo", "code": "0301"}]
PLACES = (("municipality", "5001"), ("county", "50"), ("country", "NO"))

Figure = tuple[float | None, int | None]  # (the rule's figure, its count); None = withheld


# -- the rows behind each rule's figure, written out per rule -------------------------------------------------
def housing(level: str, code: str, share: float | None, count: int | None) -> dict[str, list[dict[str, Any]]]:
    row = geo(level, code, YEAR, user_group="all", share_red=share, housing_red=count, persons_housing_known=500)
    return {"mart_housing": [row]}


def activity(level: str, code: str, share: float | None, count: int | None) -> dict[str, list[dict[str, Any]]]:
    row = geo(level, code, YEAR, user_group="all", area="activity", colour="red", share=share, persons=count)
    return {"mart_living_conditions": [row]}


def living_index(level: str, code: str, share: float | None, count: int | None) -> dict[str, list[dict[str, Any]]]:
    """Red and blålys, each half of the figure; a withheld figure is a withheld red share (blue still shown)."""
    red = geo(level, code, YEAR, user_group="all", area="living_index", colour="red")
    blue = geo(level, code, YEAR, user_group="all", area="living_index", colour="blue")
    red |= {"share": None if share is None else share / 2, "persons": None if count is None else count - count // 2}
    blue |= {"share": None if share is None else share / 2, "persons": None if count is None else count // 2}
    return {"mart_living_conditions": [red, blue]}


def voluntary(level: str, code: str, share: float | None, count: int | None) -> dict[str, list[dict[str, Any]]]:
    row = geo(level, code, YEAR, user_group="all", service_code="voluntary_sector")
    row |= {"share_received": share, "received_set_known": count}
    return {"mart_services": [row]}


def follow_up(level: str, code: str, share: float | None, count: int | None) -> dict[str, list[dict[str, Any]]]:
    """Recommended at the previous mapping (2022), followed up at this one (2024)."""
    row = geo(level, code, PREVIOUS, user_group="all", service_code="individual_plan")
    received = None if share is None or count is None else round(share * count)
    row |= {
        "next_mapping_year": YEAR,
        "is_asked_at_next_mapping": True,
        "recommended_mapped_again_at_next_mapping": count,
        "recommended_received_at_next_mapping": received,
    }
    return {"mart_services": [row]}


@dataclass(frozen=True)
class RuleCase:
    rows: Callable[[str, str, float | None, int | None], dict[str, list[dict[str, Any]]]]
    county: float  # the references' figures
    country: float
    fires: float  # the municipality's figure beyond factor × both references
    holds_not: float  # beyond one reference only, or not at all


ABOVE = {"county": 0.20, "country": 0.16, "fires": 0.40, "holds_not": 0.24}  # 0.24: above the country only
BELOW = {"county": 0.40, "country": 0.50, "fires": 0.10, "holds_not": 0.35}
RULES = {
    "housing_first": RuleCase(housing, **ABOVE),
    "ips": RuleCase(activity, **ABOVE),
    "act_fact": RuleCase(living_index, **ABOVE),
    "voluntary_sector": RuleCase(voluntary, **BELOW),
    "follow_up": RuleCase(follow_up, **BELOW),
}
COUNT = 400  # enough persons behind every figure


def trends(code_years: dict[tuple[str, str], list[int]]) -> list[dict[str, Any]]:
    """mart_trends rows (group all) so that the geographies exist; the previous mapping is the year before."""
    rows = []
    for (level, code), years in code_years.items():
        for i, year in enumerate(years):
            previous = years[i - 1] if i else None
            rows.append(geo(level, code, year, user_group="all", persons=COUNT, previous_mapping_year=previous))
    return rows


def published_with(
    tmp_path: Path, figures: dict[tuple[str, str], Figure], case: RuleCase, municipalities: list[dict[str, Any]]
) -> Path:
    rows: dict[str, list[dict[str, Any]]] = {"mart_trends": trends({place: [PREVIOUS, YEAR] for place in figures})}
    for (level, code), (value, count) in figures.items():
        for table, table_rows in case.rows(level, code, value, count).items():
            rows.setdefault(table, []).extend(table_rows)
    return write_published(tmp_path / "published.duckdb", rows, municipalities)


def outcome(path: Path, rule_id: str, code: str = "5001") -> Outcome:
    config = load_config()
    published = load_published(path, config, 5)
    evaluator = GuideEvaluator(load_guide(config), published)
    municipality = published.geography("municipality", code)
    assert municipality is not None
    rule = next(r for r in evaluator.guide.rules if r.id == rule_id)
    return evaluator.evaluate_rule(rule, municipality, YEAR)


def minimum(rule_id: str) -> int:
    return next(r.minimum_count for r in load_guide(load_config()).rules if r.id == rule_id)


def figures_for(case: RuleCase, own: Figure, county: Figure | None = None) -> dict[tuple[str, str], Figure]:
    return {PLACES[0]: own, PLACES[1]: county or (case.county, COUNT), PLACES[2]: (case.country, COUNT)}


def test_every_rule_of_the_guide_is_tested() -> None:
    assert sorted(r.id for r in load_guide(load_config()).rules) == sorted(RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_fires(tmp_path: Path, rule_id: str) -> None:
    case = RULES[rule_id]
    result = outcome(published_with(tmp_path, figures_for(case, (case.fires, COUNT)), case, TRONDELAG), rule_id)
    assert result.status == "fired"
    assert [g.code for g in result.references] == ["50", "NO"]
    [line] = result.lines
    assert line.figure.value == pytest.approx(case.fires, abs=0.01)  # the figure that triggered it
    assert [r.value for r in line.references] == pytest.approx([case.county, case.country])
    assert line.count.value == COUNT


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_does_not_fire_when_the_figure_is_not_far_enough_from_both_references(
    tmp_path: Path, rule_id: str
) -> None:
    case = RULES[rule_id]
    path = published_with(tmp_path, figures_for(case, (case.holds_not, COUNT)), case, TRONDELAG)
    assert outcome(path, rule_id).status == "not_met"


@pytest.mark.parametrize("rule_id", sorted(RULES))
@pytest.mark.parametrize("what", ["figure", "count"])
def test_rule_does_not_fire_when_the_figure_is_withheld(tmp_path: Path, rule_id: str, what: str) -> None:
    case = RULES[rule_id]
    own = (None, COUNT) if what == "figure" else (case.fires, None)
    result = outcome(published_with(tmp_path, figures_for(case, own), case, TRONDELAG), rule_id)
    assert result.status == "withheld"
    assert not result.fired


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_does_not_fire_when_a_reference_is_withheld(tmp_path: Path, rule_id: str) -> None:
    case = RULES[rule_id]
    path = published_with(tmp_path, figures_for(case, (case.fires, COUNT), county=(None, COUNT)), case, TRONDELAG)
    assert outcome(path, rule_id).status == "reference_withheld"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_does_not_fire_under_the_minimum_count(tmp_path: Path, rule_id: str) -> None:
    case = RULES[rule_id]
    least = minimum(rule_id)
    assert least >= 10  # twice the default suppression threshold at least
    under = published_with(tmp_path, figures_for(case, (case.fires, least - 1)), case, TRONDELAG)
    assert outcome(under, rule_id).status == "too_few"
    (tmp_path / "at").mkdir()
    at = published_with(tmp_path / "at", figures_for(case, (case.fires, least)), case, TRONDELAG)
    assert outcome(at, rule_id).status == "fired"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_has_no_finding_without_the_row(tmp_path: Path, rule_id: str) -> None:
    """Not mapped, the service not asked, no previous mapping: no row, no finding."""
    case = RULES[rule_id]
    figures = figures_for(case, (case.fires, COUNT))
    rows = {"mart_trends": trends({place: [PREVIOUS, YEAR] for place in figures})}
    for place in PLACES[1:]:
        for table, table_rows in case.rows(*place, *figures[place]).items():
            rows.setdefault(table, []).extend(table_rows)
    path = write_published(tmp_path / "published.duckdb", rows, TRONDELAG)
    assert outcome(path, rule_id).status == "no_data"


def test_a_county_of_one_municipality_is_no_reference(tmp_path: Path) -> None:
    """Oslo is its own county: its figure is compared with the country only (not with itself)."""
    case = RULES["housing_first"]
    figures = {
        ("municipality", "0301"): (0.40, COUNT),
        ("county", "03"): (0.40, COUNT),
        ("country", "NO"): (0.2, COUNT),
    }
    result = outcome(published_with(tmp_path, figures, case, OSLO), "housing_first", code="0301")
    assert result.status == "fired"
    assert [g.code for g in result.references] == ["NO"]


def test_follow_up_counts_only_what_was_followed_up_at_this_mapping(tmp_path: Path) -> None:
    case = RULES["follow_up"]
    rows = {"mart_trends": trends({place: [PREVIOUS, YEAR] for place in PLACES}), "mart_services": []}
    for place, share in zip(PLACES, (case.fires, case.county, case.country), strict=True):
        rows["mart_services"] += case.rows(*place, share, COUNT)["mart_services"]
    rows["mart_services"][0]["next_mapping_year"] = 2023  # the municipality's row was followed up another year
    path = write_published(tmp_path / "published.duckdb", rows, TRONDELAG)
    assert outcome(path, "follow_up").status == "no_data"
    rows["mart_services"][0] |= {"next_mapping_year": YEAR, "is_asked_at_next_mapping": False}
    (tmp_path / "b").mkdir()
    path = write_published(tmp_path / "b" / "published.duckdb", rows, TRONDELAG)
    assert outcome(path, "follow_up").status == "no_data"


def test_minimum_count_is_never_below_the_suppression_threshold(tmp_path: Path) -> None:
    """A rule declared with a minimum of 1 still needs threshold (5) persons behind the figure."""
    raw = yaml.safe_load(GUIDE_YAML.read_text(encoding="utf-8"))
    raw["rules"] = [dict(r, minimum_count=1) for r in raw["rules"] if r["id"] == "housing_first"]
    guide_path = tmp_path / "guide.yaml"
    guide_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    case = RULES["housing_first"]
    path = published_with(tmp_path, figures_for(case, (case.fires, 4)), case, TRONDELAG)
    config = load_config()
    published = load_published(path, config, 5)
    evaluator = GuideEvaluator(load_guide(config, guide_path), published)
    municipality = published.geography("municipality", "5001")
    assert municipality is not None
    [result] = evaluator.evaluate(municipality, YEAR)
    assert result.status == "too_few"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table": "mart_nonsense"}, "is not one of report.yaml's tables"),
        ({"comparison": "near"}, "comparison 'near'"),
        ({"key": {"user_group": "all"}}, "key and for_each must name"),
        ({"references": ["region"]}, "references ['region']"),
        ({"nb": {"title": "Bare tittel"}}, "missing for language 'nb'"),
    ],
)
def test_a_bad_rule_is_refused_with_its_id(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    raw = yaml.safe_load(GUIDE_YAML.read_text(encoding="utf-8"))
    raw["rules"][1] |= change
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="rule 'ips'") as error:
        load_guide(load_config(), path)
    assert message in str(error.value)


def report_page(tmp_path: Path, published: Path) -> Path:
    """The report page of Trondheim (HTML only) from `published`."""
    with open(tmp_path / "console.txt", "w", encoding="utf-8") as log:
        settings = settings_under(tmp_path, published=published)
        result = build_reports(settings, Console(file=log), codes=["5001"], out=tmp_path / "r", pdf=False)
    assert result.pages == 1
    return tmp_path / "r" / "pages" / "municipality-5001.html"


def guide_part(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    return html[html.index('<section id="guide"') : html.index("<footer>")]


def test_the_page_shows_the_finding_with_its_rule_and_figures(tmp_path: Path) -> None:
    case = RULES["housing_first"]
    page = report_page(tmp_path, published_with(tmp_path, figures_for(case, (case.fires, COUNT)), case, TRONDELAG))
    guide = guide_part(page)
    assert guide.count('<article class="finding"') == 1 and 'data-rule="housing_first"' in guide
    assert "Regel housing_first" in guide  # the finding names its rule
    assert "Housing First" in guide and "Når rapporten har kommet tilbake" in guide
    shown = {
        (f.attrs["data-key"], f.attrs["data-column"]): f.attrs.get("data-value")
        for f in figures_of(page)
        if f.attrs.get("data-table") == "mart_housing"
    }
    key = '{{"geo_level": "{}", "geo_code": "{}", "mapping_year": 2024, "user_group": "all"}}'
    assert shown[(key.format("municipality", "5001"), "share_red")] == "0.4"
    assert shown[(key.format("municipality", "5001"), "housing_red")] == str(COUNT)
    assert shown[(key.format("county", "50"), "share_red")] == "0.2"
    assert shown[(key.format("country", "NO"), "share_red")] == "0.16"


def test_the_page_says_which_rules_could_not_be_assessed(tmp_path: Path) -> None:
    case = RULES["housing_first"]
    page = report_page(tmp_path, published_with(tmp_path, figures_for(case, (None, COUNT)), case, TRONDELAG))
    guide = guide_part(page)
    assert '<article class="finding"' not in guide
    assert "Ingen av reglene slo ut for Trondheim i 2024." in guide
    assert "Mange bostedsløse" in guide.split("Ikke vurdert")[1]
