"""A small published-like DuckDB file with the table and column names of the published file
(warehouse.md "Interfaces", docs/contracts.md §3): marts at three geo levels, dimensions and
publication_metadata, with primary suppression (counts 1..threshold-1 withheld, NULL, flagged by the row's
`<column>_withheld`, derived figures withheld with their sources). Groups add up (rule 4), counties and the
country are sums of their municipalities. Used by the report tests when no real chain output is wanted.

Trondheim (5001) is today's Trondheim and Klæbu: in 2016 only Klæbu mapped and in 2017 only Trondheim (as in
../shared/reference/trondelag_participation.csv), so its pages show the partial-coverage notice; in 2016 its
housing is mostly red (a guide finding on that page)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from brukerplan.publish.layout import FLAG_SUFFIX
from brukerplan.publish.spec import PublishSpec, expand_patterns, load_spec
from tests.support import AREAS

YEARS = list(range(2013, 2025))
FINEST = ("rus_only", "rop_less_serious", "rop_serious", "rus_mental_unknown", "mental")
SERVICES = (
    ("home_nursing", "Hjemmesykepleie", "Home nursing"),
    ("practical_help", "Praktisk bistand", "Practical help"),
    ("social_assistance", "Økonomisk sosialhjelp", "Social assistance"),
    ("individual_plan", "Individuell plan", "Individual plan"),
    ("municipal_housing", "Kommunal bolig", "Municipal housing"),
    ("lar", "LAR", "LAR (opioid substitution)"),
    ("ips", "IPS", "IPS"),
    ("voluntary_sector", "Frivillig sektor", "Voluntary sector"),
)
ASKED_FROM = {"ips": 2019, "voluntary_sector": 2015}  # not asked before: no row


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    years: tuple[int, ...]
    size: int  # persons in group all, roughly
    population: int
    registered: tuple[tuple[str, str, str | None], ...]  # (registered code, valid_from, valid_to)
    # years when only some registered municipalities mapped: (year, the codes that did, share of size/population)
    partial: tuple[tuple[int, tuple[str, ...], float], ...] = ()

    def mapped(self, year: int) -> tuple[str, ...]:
        """The registered codes in force that mapped in `year` (all of them unless the year is partial)."""
        for partial_year, codes, _ in self.partial:
            if partial_year == year:
                return codes
        return self.in_force(year)

    def in_force(self, year: int) -> tuple[str, ...]:
        first = dt.date(year, 1, 1)
        return tuple(
            code
            for code, valid_from, valid_to in self.registered
            if dt.date.fromisoformat(valid_from) <= first
            and (valid_to is None or first < dt.date.fromisoformat(valid_to))
        )

    def scale(self, year: int) -> float:
        """The share of the municipality's size and population that mapped in `year`."""
        return next((share for partial_year, _, share in self.partial if partial_year == year), 1.0)


# names of registered codes other than today's name
REGISTERED_NAMES = {"1662": "Klæbu", "5030": "Klæbu", "1523": "Ørskog"}
# (municipality, year) -> share of persons in red housing (a guide finding on that page)
RED_HOUSING = {("5001", 2016): 0.8}


COUNTIES = {"50": "Trøndelag", "15": "Møre og Romsdal"}
MUNICIPALITIES = (
    Municipality(
        "5001",
        "Trondheim",
        tuple(YEARS),
        900,
        170000,
        (
            ("1601", "1971-01-01", "2018-01-01"),
            ("1662", "1971-01-01", "2018-01-01"),
            ("5001", "2018-01-01", None),
            ("5030", "2018-01-01", "2020-01-01"),
        ),
        partial=((2016, ("1662",), 0.08), (2017, ("1601",), 0.92)),
    ),
    Municipality(
        "5035",
        "Stjørdal",
        tuple(range(2013, 2025, 2)),
        160,
        20000,
        (("1714", "1971-01-01", "2018-01-01"), ("5035", "2018-01-01", None)),
    ),
    Municipality(
        "1508",
        "Ålesund",
        (2014, 2016, 2018, 2020, 2022, 2024),
        300,
        55000,
        (
            ("1504", "1971-01-01", "2020-01-01"),
            ("1523", "1971-01-01", "2020-01-01"),
            ("1507", "2020-01-01", "2024-01-01"),
            ("1508", "2024-01-01", None),
        ),
    ),
    Municipality("1520", "Ørsta", (2015, 2016, 2019, 2024), 18, 8500, (("1520", "1971-01-01", None),)),
    Municipality(
        "1506", "Molde", (2013,), 120, 25000, (("1502", "1971-01-01", "2020-01-01"), ("1506", "2020-01-01", None))
    ),
    Municipality("5025", "Røros", (), 30, 4500, (("1640", "1971-01-01", "2018-01-01"), ("5025", "2018-01-01", None))),
)

GROUPS_OF = {"rus": FINEST[:4], "all": FINEST, **{g: (g,) for g in FINEST}}

TREND_COUNTS = ("persons", "persons_18plus", "men", "persons_approximate", "previous_persons")
TREND_DERIVED = {
    "share_men": ("men", "persons"),
    "mean_age": ("persons",),
    "rate_per_1000_16plus": ("persons",),
    "rate_per_1000_18plus": ("persons_18plus",),
    "previous_rate_per_1000_16plus": ("previous_persons",),
    "change_persons": ("persons", "previous_persons"),
    "change_rate_per_1000_16plus": ("persons", "previous_persons"),
}


def _suppress(
    row: dict[str, Any],
    counts: tuple[str, ...],
    derived: dict[str, tuple[str, ...]],
    threshold: int,
    external: set[str] | None = None,
) -> dict[str, Any]:
    withheld = {c for c in counts if row.get(c) is not None and 0 < row[c] < threshold}
    withheld |= external or set()
    for column, sources in derived.items():
        if any(s in withheld for s in sources):
            withheld.add(column)
    for column in withheld:
        row[column] = None
    row["withheld_cells"] = len(withheld)
    row[WITHHELD] = withheld  # becomes the `<column>_withheld` flags in _flagged
    return row


WITHHELD = "__withheld"  # a row's withheld columns until _flagged turns them into flags


@cache
def _spec() -> PublishSpec:
    return load_spec()


def suppressible(table: str, columns: list[str]) -> list[str]:
    """The columns among `columns` that publish can withhold in `table` (declared in its tables.yaml), in order:
    each gets a `<column>_withheld` flag in the published file."""
    declared = expand_patterns(_spec(), {table: columns}).table(table)
    return [c for c in columns if c in {*declared.count_names, *declared.derived}]


def _flagged(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with one `<column>_withheld` flag per measure publish can withhold: true exactly where the
    fixture withheld the cell."""
    columns = list(dict.fromkeys(c for r in rows for c in r if c != WITHHELD))
    flagged = suppressible(table, columns)
    stray = set().union(*(r.get(WITHHELD, ()) for r in rows)) - set(flagged)
    if stray:
        raise ValueError(f"{table}: the fixture withholds {sorted(stray)}, which publish cannot withhold")
    return [
        {
            **{c: v for c, v in r.items() if c != WITHHELD},
            **{c + FLAG_SUFFIX: c in r.get(WITHHELD, ()) for c in flagged},
        }
        for r in rows
    ]


DQ_COUNTS = (
    "registrations_raw",
    "rejected",
    "superseded",
    "duplicates_removed",
    "duplicates_cross_municipality",
    "persons",
)

EXTRA_COUNTIES = ("03", "11", "18", "31", "32", "33", "34", "39", "40", "42", "46", "55", "56")


def national_shape(count: int, seed: int = 9) -> tuple[dict[str, str], tuple[Municipality, ...]]:
    """The fixture's municipalities plus `count` generated ones in 13 more counties (for timing a run of
    the default size, ~360 municipalities): some map every year, some every second year, some now and then."""
    rng = random.Random(seed)
    counties = dict(COUNTIES) | {c: f"Fylke {c}" for c in EXTRA_COUNTIES}
    extra = []
    for i in range(count):
        county = EXTRA_COUNTIES[i % len(EXTRA_COUNTIES)]
        code = f"{county}{i // len(EXTRA_COUNTIES) + 1:02d}"
        pattern = rng.choice(("every", "second", "some"))
        if pattern == "every":
            years = tuple(YEARS)
        elif pattern == "second":
            years = tuple(YEARS[rng.randint(0, 1) :: 2])
        else:
            years = tuple(sorted(rng.sample(YEARS, rng.randint(1, 6))))
        size = rng.randint(5, 400)
        extra.append(Municipality(code, f"Kommune {code}", years, size, size * 200, ((code, "1971-01-01", None),)))
    return counties, MUNICIPALITIES + tuple(extra)


def make_published(path: Path, threshold: int = 5, seed: int = 9, extra_municipalities: int = 0) -> Path:
    """Write the published-like file; `extra_municipalities` adds generated ones (see national_shape)."""
    rng = random.Random(seed)
    counties, municipalities = national_shape(extra_municipalities, seed)
    # finest counts per municipality, year and finest group
    finest: dict[tuple[str, int, str], int] = {}
    for m in municipalities:
        for year in m.years:
            for group in FINEST:
                if group == "mental" and year < 2015:
                    finest[(m.code, year, group)] = 0
                    continue
                share = {
                    "rus_only": 0.1,
                    "rop_less_serious": 0.25,
                    "rop_serious": 0.12,
                    "rus_mental_unknown": 0.03,
                    "mental": 0.5,
                }[group]
                size = m.size * m.scale(year)
                finest[(m.code, year, group)] = max(0, int(rng.gauss(size * share, size * share * 0.2 + 1)))

    geos: list[tuple[str, str, str, list[Municipality]]] = [
        ("municipality", m.code, m.name, [m]) for m in municipalities
    ]
    geos += [("county", c, n, [m for m in municipalities if m.code[:2] == c]) for c, n in counties.items()]
    geos.append(("country", "NO", "Norge", list(municipalities)))

    trends, living, housing, services, participation = [], [], [], [], []
    for level, code, name, members in geos:
        years_of = sorted({y for m in members for y in m.years})
        previous_year: dict[str, int | None] = {}
        previous_persons: dict[str, int] = {}
        previous_rate: dict[str, float] = {}
        for year in years_of:
            active = [m for m in members if year in m.years]
            pop = sum(int(m.population * m.scale(year)) for m in active)
            in_force = sum(len(m.in_force(year)) for m in members)
            participating = sum(len(m.mapped(year)) for m in active)
            participation.append(
                _suppress(
                    {
                        "geo_level": level,
                        "geo_code": code,
                        "geo_name": name,
                        "mapping_year": year,
                        "municipalities_in_force": in_force,
                        "municipalities_participating": participating,
                        "share_participating": participating / in_force,
                        "population_16plus_covered": pop,
                        "agencies": 3 + len(active),
                        "submissions": len(active) + (1 if code == "5001" else 0),
                        "registrations": sum(finest[(m.code, year, g)] for m in active for g in FINEST) + 7,
                    },
                    ("registrations",),
                    {},
                    threshold,
                )
            )
            for group, parts in GROUPS_OF.items():
                persons = sum(finest[(m.code, year, g)] for m in active for g in parts)
                if group == "mental" and year < 2015:
                    continue
                men = int(persons * 0.68)
                prev = previous_year.get(group)
                rate = 1000.0 * persons / pop
                group_key = {
                    "geo_level": level,
                    "geo_code": code,
                    "geo_name": name,
                    "mapping_year": year,
                    "user_group": group,
                }
                row = {
                    **group_key,
                    "persons": persons,
                    "persons_18plus": int(persons * 0.97),
                    "men": men,
                    "share_men": men / persons if persons else None,
                    "mean_age": 42.5 if persons else None,
                    "population_16plus": pop,
                    "population_18plus": int(pop * 0.96),
                    "participating_municipalities": len(active),
                    "rate_per_1000_16plus": rate,
                    "rate_per_1000_18plus": 1000.0 * int(persons * 0.97) / int(pop * 0.96),
                    "previous_mapping_year": prev,
                    "previous_persons": previous_persons.get(group) if prev else None,
                    "previous_rate_per_1000_16plus": previous_rate.get(group) if prev else None,
                    "change_persons": persons - previous_persons[group] if prev else None,
                    "change_rate_per_1000_16plus": rate - previous_rate[group] if prev else None,
                    "persons_approximate": 0 if code != "1508" or year >= 2020 else min(persons, 3),
                }
                trends.append(_suppress(row, TREND_COUNTS, TREND_DERIVED, threshold))
                previous_year[group], previous_persons[group], previous_rate[group] = year, persons, rate
                # living conditions: split the persons over the colours, deterministically per cell
                cell_rng = random.Random(f"{code}{year}{group}")
                colour_counts = {}
                for area in (*AREAS, "living_index"):
                    colours = ["green", "yellow", "red", "unknown"] + (["blue"] if area == "living_index" else [])
                    left = persons
                    counts = {}
                    for colour in colours[:-1]:
                        counts[colour] = cell_rng.randint(0, left // 2) if left else 0
                        left -= counts[colour]
                    counts[colours[-1]] = left
                    red_share = RED_HOUSING.get((code, year)) if area == "housing" and level == "municipality" else None
                    if red_share is not None:
                        counts = {"green": 0, "yellow": 0, "red": int(persons * red_share), "unknown": 0}
                        counts["green"] = persons - counts["red"]
                    known = sum(v for c, v in counts.items() if c != "unknown")
                    withheld_area = any(0 < v < threshold for v in counts.values())
                    colour_counts[area] = counts
                    for colour, count in counts.items():
                        r = {
                            **group_key,
                            "area": area,
                            "colour": colour,
                            "persons": count,
                            "share": (count / known if known else None) if colour != "unknown" else None,
                        }
                        living.append(_suppress(r, ("persons",), {}, threshold, {"share"} if withheld_area else None))
                red, yellow = colour_counts["housing"]["red"], colour_counts["housing"]["yellow"]
                known_housing = persons - colour_counts["housing"]["unknown"]
                with_children = red // 3
                housing.append(
                    _suppress(
                        {
                            **group_key,
                            "housing_red": red,
                            "housing_yellow": yellow,
                            "housing_red_yellow": red + yellow,
                            "share_red": red / known_housing if known_housing else None,
                            "share_yellow": yellow / known_housing if known_housing else None,
                            "share_red_yellow": (red + yellow) / known_housing if known_housing else None,
                            "persons_with_children_red_yellow": with_children,
                            "children_red_yellow": with_children * 2,
                        },
                        (
                            "housing_red",
                            "housing_yellow",
                            "housing_red_yellow",
                            "persons_with_children_red_yellow",
                            "children_red_yellow",
                        ),
                        {
                            "share_red": ("housing_red",),
                            "share_yellow": ("housing_yellow",),
                            "share_red_yellow": ("housing_red_yellow",),
                        },
                        threshold,
                    )
                )
                later = [y for y in years_of if y > year]
                for service_order, (service, _nb, _en) in enumerate(SERVICES, start=1):
                    if year < ASKED_FROM.get(service, 0):
                        continue  # not asked that year: no row
                    cont = cell_rng.randint(0, persons // 4) if persons else 0
                    end = cell_rng.randint(0, persons // 8) if persons else 0
                    new = cell_rng.randint(0, persons // 5) if persons else 0
                    received, recommended = cont + end, cont + new
                    again = cell_rng.randint(recommended // 2, recommended) if later else None
                    received_next = cell_rng.randint(0, again) if again is not None else None
                    services.append(
                        _suppress(
                            {
                                **group_key,
                                "service_code": service,
                                "received": received,
                                "recommended": recommended,
                                "status_continue": cont,
                                "status_new": new,
                                "status_end": end,
                                "gap": recommended - received,
                                "received_set_known": persons,
                                "share_received": received / persons if persons else None,
                                "share_recommended": recommended / persons if persons else None,
                                "service_order": service_order,
                                "next_mapping_year": later[0] if later else None,
                                "is_asked_at_next_mapping": True if later else None,
                                "recommended_mapped_again_at_next_mapping": again,
                                "recommended_received_at_next_mapping": received_next,
                            },
                            (
                                "received",
                                "recommended",
                                "received_set_known",
                                "status_continue",
                                "status_new",
                                "status_end",
                                "recommended_mapped_again_at_next_mapping",
                                "recommended_received_at_next_mapping",
                            ),
                            {
                                "gap": ("received", "recommended"),
                                "share_received": ("received",),
                                "share_recommended": ("recommended",),
                            },
                            threshold,
                        )
                    )

    data_quality, dim_municipality = [], []
    for m in municipalities:
        for registered, valid_from, valid_to in m.registered:
            dim_municipality.append(
                {
                    "municipality_code_registered": registered,
                    "valid_from": dt.date.fromisoformat(valid_from),
                    "valid_to": dt.date.fromisoformat(valid_to) if valid_to else None,
                    "name": REGISTERED_NAMES.get(registered, m.name),
                    "county_code_registered": registered[:2],
                    "municipality_code": m.code,
                    "municipality_name": m.name,
                    "county_code": m.code[:2],
                    "county_name": counties[m.code[:2]],
                    "is_approximate": False,
                }
            )
        for year in m.years:
            persons = sum(finest[(m.code, year, g)] for g in FINEST)
            for registered in m.in_force(year):
                if registered not in m.mapped(year):
                    # its file was quarantined: a row of zeros, not current (it did not participate)
                    data_quality.append(
                        {
                            "municipality_code_registered": registered,
                            "mapping_year": year,
                            "submission_id": f"q{registered}{year}abcdef0"[:16],
                            "is_current": False,
                            "is_quarantined": True,
                            **dict.fromkeys(DQ_COUNTS, 0),
                            "withheld_cells": 0,
                        }
                    )
                    continue
                data_quality.append(
                    _suppress(
                        {
                            "municipality_code_registered": registered,
                            "mapping_year": year,
                            "submission_id": f"{registered}{year}abcdef01"[:16],
                            "is_current": True,
                            "is_quarantined": False,
                            "registrations_raw": persons + 9,
                            "rejected": 3 if m.code != "1520" else 0,
                            "superseded": 0,
                            "duplicates_removed": 6,
                            "duplicates_cross_municipality": 2,
                            "persons": persons,
                        },
                        DQ_COUNTS,
                        {},
                        threshold,
                    )
                )

    con = duckdb.connect(str(path))
    try:

        def create(name: str, rows: list[dict[str, Any]]) -> None:
            con.register("rows_view", pa.Table.from_pylist(rows))
            con.execute(f"create table {name} as select * from rows_view")
            con.unregister("rows_view")

        create("mart_trends", _flagged("mart_trends", trends))
        create("mart_living_conditions", _flagged("mart_living_conditions", living))
        create("mart_housing", _flagged("mart_housing", housing))
        create("mart_services", _flagged("mart_services", services))
        create("mart_participation", _flagged("mart_participation", participation))
        create("mart_data_quality", _flagged("mart_data_quality", data_quality))
        create("dim_municipality", dim_municipality)
        create("dim_county", [{"county_code": c, "name": n} for c, n in counties.items()])
        create(
            "dim_service",
            [
                {"service_code": s, "sort_order": i, "level": "municipal", "label_nb": nb, "label_en": en}
                for i, (s, nb, en) in enumerate(SERVICES, start=1)
            ],
        )
        create(
            "dim_area",
            [
                {"area_code": a, "sort_order": i, "label_nb": None, "label_en": None}
                for i, a in enumerate((*AREAS, "living_index"), start=1)
            ],
        )
        create("dim_agency", [{"agency_code": "01", "label_nb": "Rustjeneste", "label_en": "Substance-use service"}])
        create(
            "publication_metadata",
            [
                {
                    "published_at": dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC),
                    "submissions_included": len(data_quality),
                    "suppression_threshold": threshold,
                    "versions": "fixture",
                }
            ],
        )
    finally:
        con.close()
    return path
