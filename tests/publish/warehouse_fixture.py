"""A small warehouse DuckDB file with the contract's mart and dimension tables, built here directly (no dbt):
random persons are aggregated to municipality, county (first two digits) and country, for the groups of
rule 4, so every additive set of warehouse.md holds exactly. Person-level core tables are included too, so the
tests can prove that publish never copies them."""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from brukerplan.settings import PROJECT_DIR
from tests.support import AREAS

FINEST = ["rus_only", "rop_less_serious", "rop_serious", "rus_mental_unknown", "mental"]
RUS = FINEST[:4]
INDEX = "living_index"
COLOURS = ["green", "yellow", "red", "unknown"]
SERVICES = ["home_nursing", "lar", "ips"]
STATUSES = ["continue", "new", "end", "none", "unknown"]
MUNICIPALITIES = ["5001", "5006", "5007", "5014", "5020", "1505", "1506", "1507", "3401", "3403"]
YEARS = [2017, 2019, 2021]
# The fixture draws each service's status of a person independently, so the numbers about persons that the real
# marts repeat on every service row (persons whose received / recommended sets are known) differ between the
# service rows of the fixture. These identity kinds of the attacker (tests/publish/attack.py) hold on the
# dbt-built marts; on the fixture the attacker finds them wrong on shown instances and leaves them out.
FIXTURE_ONLY_WRONG = frozenset(
    {
        "services.repeat[persons_status_known]",
        "services.repeat[persons_status_unknown]",
        "services.repeat[received_set_known]",
        "services.repeat[recommended_set_known]",
    }
)


@dataclass(frozen=True)
class FixtureShape:
    seed: int = 1
    max_persons: int = 40  # per municipality and year (uniform 0..max), small so that suppression bites
    years: tuple[int, ...] = tuple(YEARS)
    municipalities: tuple[str, ...] = tuple(MUNICIPALITIES)
    # with seed_per_submission, each municipality-year draws from its own seed, so that one submission can change
    # (resubmitted: drawn anew) or be left out (absent) without changing the others
    seed_per_submission: bool = False
    resubmitted: tuple[tuple[int, str], ...] = ()
    absent: tuple[tuple[int, str], ...] = ()


def _persons(shape: FixtureShape) -> pa.Table:
    rng = random.Random(shape.seed)
    rows: dict[str, list] = {
        k: []
        for k in [
            "person_id",
            "mapping_year",
            "municipality_code",
            "user_group",
            "sex",
            "age",
            "is_approximate",
            "has_children",
            "n_children",
            "n_registrations",
            "mapped_again",
            "received_next",
        ]
    }
    for area in [*AREAS, INDEX]:
        rows[f"area_{area}"] = []
    for service in SERVICES:
        rows[f"status_{service}"] = []
    pid = 0
    for year in shape.years:
        for muni in shape.municipalities:
            if shape.seed_per_submission:
                if (year, muni) in shape.absent:
                    continue
                rng = random.Random(f"{shape.seed}:{year}:{muni}:{(year, muni) in shape.resubmitted}")
            if rng.random() < 0.2:
                continue  # not participating this year: no rows at all (a gap)
            n = rng.randint(1, shape.max_persons)
            mental_share = rng.choice([0.0, 0.3, 0.6])
            rus_share = rng.choice([0.0, 0.5, 1.0]) if mental_share else 1.0
            for _ in range(n):
                pid += 1
                group = "mental" if rng.random() < mental_share else rng.choice(RUS)
                if group != "mental" and rus_share == 0.0:
                    group = "mental"
                rows["person_id"].append(pid)
                rows["mapping_year"].append(year)
                rows["municipality_code"].append(muni)
                rows["user_group"].append(group)
                rows["sex"].append(rng.choice("mmf"))
                rows["age"].append(rng.randint(16, 80))
                rows["is_approximate"].append(rng.random() < 0.1)
                has_children = rng.random() < 0.3
                rows["has_children"].append(has_children)
                rows["n_children"].append((rng.randint(1, 3) if rng.random() < 0.8 else None) if has_children else 0)
                rows["n_registrations"].append(rng.choice([1, 1, 1, 2]))
                rows["mapped_again"].append(rng.random() < 0.6)
                rows["received_next"].append(rng.random() < 0.5)
                for area in AREAS:
                    rows[f"area_{area}"].append(rng.choice(COLOURS))
                rows[f"area_{INDEX}"].append(rng.choice([*COLOURS, "blue"]))
                # the received and recommended sets are known or not per person (as in BrukerPlan), the status
                # of each service within known sets varies
                known = rng.random() < 0.8
                for service in SERVICES:
                    rows[f"status_{service}"].append(rng.choice(STATUSES[:4]) if known else "unknown")
    return pa.table(rows)


GEO = """
create temp table person_geo as
select *, 'municipality' as geo_level, municipality_code as geo_code from persons
union all select *, 'county', left(municipality_code, 2) from persons
union all select *, 'country', 'NO' from persons;

create temp table pgg as
select *, user_group as grp from person_geo
union all select *, 'rus' from person_geo where user_group in ('rus_only', 'rop_less_serious', 'rop_serious',
    'rus_mental_unknown')
union all select *, 'all' from person_geo;

create temp table scaffold as
select distinct geo_level, geo_code, mapping_year, grp as user_group from pgg
where grp in ('all', 'rus', 'mental')
union
select distinct geo_level, geo_code, mapping_year, s.g from pgg,
    (values ('rus_only'), ('rop_less_serious'), ('rop_serious'), ('rus_mental_unknown')) s(g)
where grp = 'rus';

create temp table target_munis as
select geo_level, geo_code, mapping_year, grp as user_group, count(distinct municipality_code) as n_munis
from pgg group by all;
"""

TRENDS = """
create schema if not exists marts;
create table marts.mart_trends as
with counts as (
    select geo_level, geo_code, mapping_year, grp as user_group, count(*) as persons,
        count(*) filter (where age >= 18) as persons_18plus, count(*) filter (where sex = 'm') as men,
        avg(age) as mean_age, count(*) filter (where is_approximate) as persons_approximate
    from pgg group by all
),
munis as (
    -- a subgroup participates where its parent group rus does
    select s.*, coalesce(t.n_munis, r.n_munis) as participating_municipalities
    from scaffold s
    left join target_munis t using (geo_level, geo_code, mapping_year, user_group)
    left join target_munis r on r.geo_level = s.geo_level and r.geo_code = s.geo_code
        and r.mapping_year = s.mapping_year and r.user_group = 'rus'
),
rates as (
    select m.geo_level, m.geo_code, m.geo_level || ' ' || m.geo_code as geo_name, m.mapping_year, m.user_group,
        coalesce(c.persons, 0) as persons, coalesce(c.persons_18plus, 0) as persons_18plus,
        coalesce(c.men, 0) as men, coalesce(c.men, 0) / nullif(c.persons, 0) as share_men, c.mean_age,
        m.participating_municipalities * 1000 as population_16plus,
        m.participating_municipalities * 950 as population_18plus,
        m.participating_municipalities, m.participating_municipalities as participating_municipalities_harmonised,
        1000.0 * coalesce(c.persons, 0) / (m.participating_municipalities * 1000) as rate_per_1000_16plus,
        1000.0 * coalesce(c.persons_18plus, 0) / (m.participating_municipalities * 950) as rate_per_1000_18plus,
        coalesce(c.persons_approximate, 0) as persons_approximate,
        lag(m.mapping_year) over (partition by m.geo_level, m.geo_code, m.user_group order by m.mapping_year)
            as previous_mapping_year
    from munis m left join counts c using (geo_level, geo_code, mapping_year, user_group)
)
select cur.geo_level, cur.geo_code, cur.geo_name, cur.mapping_year, cur.user_group, cur.persons,
    cur.persons_18plus, cur.men, cur.share_men, cur.mean_age, cur.population_16plus, cur.population_18plus,
    cur.participating_municipalities, cur.participating_municipalities_harmonised, cur.rate_per_1000_16plus,
    cur.rate_per_1000_18plus, cur.previous_mapping_year, prev.persons as previous_persons,
    prev.rate_per_1000_16plus as previous_rate_per_1000_16plus,
    prev.rate_per_1000_18plus as previous_rate_per_1000_18plus,
    cur.persons - prev.persons as change_persons,
    cur.rate_per_1000_16plus - prev.rate_per_1000_16plus as change_rate_per_1000_16plus,
    cur.rate_per_1000_18plus - prev.rate_per_1000_18plus as change_rate_per_1000_18plus,
    cur.persons_approximate
from rates cur left join rates prev on cur.geo_level = prev.geo_level and cur.geo_code = prev.geo_code
    and cur.user_group = prev.user_group and cur.previous_mapping_year = prev.mapping_year;
"""

LIVING = """
create table marts.mart_living_conditions as
with long as (
    unpivot pgg on {area_columns} into name area_column value colour
),
counts as (
    select geo_level, geo_code, mapping_year, grp as user_group, replace(area_column, 'area_', '') as area,
        colour, count(*) as persons
    from long group by all
),
cells as (
    select s.*, a.area, a.area_order, c.colour, c.colour_order
    from scaffold s,
        (values {areas}) a(area, area_order),
        (values ('green', 1), ('yellow', 2), ('red', 3), ('blue', 4), ('unknown', 5)) c(colour, colour_order)
    where c.colour != 'blue' or a.area = 'living_index'
),
with_totals as (
    select cells.*, cells.geo_level || ' ' || cells.geo_code as geo_name, coalesce(counts.persons, 0) as persons,
        sum(coalesce(counts.persons, 0)) filter (where cells.colour != 'unknown')
            over (partition by cells.geo_level, cells.geo_code, cells.mapping_year, cells.user_group, cells.area)
            as persons_known,
        sum(coalesce(counts.persons, 0))
            over (partition by cells.geo_level, cells.geo_code, cells.mapping_year, cells.user_group, cells.area)
            as persons_in_area
    from cells left join counts using (geo_level, geo_code, mapping_year, user_group, area, colour)
)
select geo_level, geo_code, geo_name, mapping_year, user_group, area, area_order, colour, colour_order, persons,
    persons_known, persons_in_area,
    case when colour != 'unknown' then persons / nullif(persons_known, 0) end as share,
    persons / nullif(persons_in_area, 0) as share_of_all
from with_totals;
"""

HOUSING = """
create table marts.mart_housing as
with counts as (
    select geo_level, geo_code, mapping_year, grp as user_group, count(*) as persons,
        count(*) filter (where area_housing != 'unknown') as persons_housing_known,
        count(*) filter (where area_housing = 'green') as housing_green,
        count(*) filter (where area_housing = 'yellow') as housing_yellow,
        count(*) filter (where area_housing = 'red') as housing_red,
        count(*) filter (where area_housing in ('red', 'yellow') and has_children)
            as persons_with_children_red_yellow,
        coalesce(sum(n_children) filter (where area_housing in ('red', 'yellow') and has_children), 0)
            as children_red_yellow,
        count(*) filter (where area_housing in ('red', 'yellow') and has_children and n_children is null)
            as persons_with_children_red_yellow_number_unknown
    from pgg group by all
),
full_counts as (
    select s.geo_level, s.geo_code, s.geo_level || ' ' || s.geo_code as geo_name, s.mapping_year, s.user_group,
        coalesce(persons, 0) as persons, coalesce(persons_housing_known, 0) as persons_housing_known,
        coalesce(housing_green, 0) as housing_green, coalesce(housing_yellow, 0) as housing_yellow,
        coalesce(housing_red, 0) as housing_red,
        coalesce(persons_with_children_red_yellow, 0) as persons_with_children_red_yellow,
        coalesce(children_red_yellow, 0)::bigint as children_red_yellow,
        coalesce(persons_with_children_red_yellow_number_unknown, 0)
            as persons_with_children_red_yellow_number_unknown
    from scaffold s left join counts using (geo_level, geo_code, mapping_year, user_group)
)
select geo_level, geo_code, geo_name, mapping_year, user_group, persons, persons_housing_known, housing_green,
    housing_yellow, housing_red, housing_red + housing_yellow as housing_red_yellow,
    housing_red / nullif(persons_housing_known, 0) as share_red,
    housing_yellow / nullif(persons_housing_known, 0) as share_yellow,
    (housing_red + housing_yellow) / nullif(persons_housing_known, 0) as share_red_yellow,
    persons_with_children_red_yellow, children_red_yellow, persons_with_children_red_yellow_number_unknown
from full_counts;
"""

SERVICES_SQL = """
create table marts.mart_services as
with long as (
    unpivot pgg on {status_columns} into name status_column value status
),
counts as (
    select geo_level, geo_code, mapping_year, grp as user_group, replace(status_column, 'status_', '') as service_code,
        count(*) filter (where status != 'unknown') as persons_status_known,
        count(*) filter (where status = 'unknown') as persons_status_unknown,
        count(*) filter (where status in ('continue', 'end')) as received,
        count(*) filter (where status in ('continue', 'new')) as recommended,
        count(*) filter (where status = 'continue') as status_continue,
        count(*) filter (where status = 'new') as status_new,
        count(*) filter (where status = 'end') as status_end,
        count(*) filter (where status = 'none') as status_none,
        -- the received (recommended) set alone may be known where the status is not
        count(*) filter (where status != 'unknown' or person_id % 3 = 0) as received_set_known,
        count(*) filter (where status in ('continue', 'end') or (status = 'unknown' and person_id % 6 = 0))
            as received_in_known_set,
        count(*) filter (where status != 'unknown' or person_id % 4 = 0) as recommended_set_known,
        count(*) filter (where status in ('continue', 'new') or (status = 'unknown' and person_id % 8 = 0))
            as recommended_in_known_set,
        count(*) filter (where mapped_again) as mapped_again_at_next_mapping,
        count(*) filter (where mapped_again and received_next) as received_at_next_mapping,
        count(*) filter (where mapped_again and status in ('continue', 'new')) as recommended_mapped_again,
        count(*) filter (where mapped_again and received_next and status in ('continue', 'new'))
            as recommended_received
    from long group by all
),
cells as (
    select s.*, v.service_code, v.service_order, v.service_level,
        lead(s.mapping_year) over (partition by s.geo_level, s.geo_code, s.user_group, v.service_code
            order by s.mapping_year) as next_mapping_year
    from scaffold s, (values {services}) v(service_code, service_order, service_level)
)
select c.geo_level, c.geo_code, c.geo_level || ' ' || c.geo_code as geo_name, c.mapping_year, c.user_group,
    c.service_code, c.service_order, c.service_level,
    coalesce(persons_status_known, 0) as persons_status_known,
    coalesce(persons_status_unknown, 0) as persons_status_unknown,
    coalesce(received, 0) as received, coalesce(recommended, 0) as recommended,
    coalesce(status_continue, 0) as status_continue, coalesce(status_new, 0) as status_new,
    coalesce(status_end, 0) as status_end, coalesce(status_none, 0) as status_none,
    coalesce(received_set_known, 0) as received_set_known,
    coalesce(received_in_known_set, 0) as received_in_known_set,
    coalesce(recommended_set_known, 0) as recommended_set_known,
    coalesce(recommended_in_known_set, 0) as recommended_in_known_set,
    coalesce(recommended, 0) - coalesce(received, 0) as gap,
    coalesce(received_in_known_set, 0) / nullif(received_set_known, 0) as share_received,
    coalesce(recommended_in_known_set, 0) / nullif(recommended_set_known, 0) as share_recommended,
    c.next_mapping_year, c.next_mapping_year is not null as is_asked_at_next_mapping,
    case when c.next_mapping_year is not null then coalesce(mapped_again_at_next_mapping, 0) end
        as mapped_again_at_next_mapping,
    case when c.next_mapping_year is not null then coalesce(received_at_next_mapping, 0) end
        as received_at_next_mapping,
    case when c.next_mapping_year is not null then coalesce(recommended_mapped_again, 0) end
        as recommended_mapped_again_at_next_mapping,
    case when c.next_mapping_year is not null then coalesce(recommended_received, 0) end
        as recommended_received_at_next_mapping
from cells c left join counts using (geo_level, geo_code, mapping_year, user_group, service_code);
"""

PARTICIPATION = """
create table marts.mart_participation as
select geo_level, geo_code, geo_level || ' ' || geo_code as geo_name, mapping_year, true as is_participating,
    20 as municipalities_in_force, count(distinct municipality_code) as municipalities_participating,
    count(distinct municipality_code) filter (where user_group != 'mental') as municipalities_participating_rus,
    count(distinct municipality_code) filter (where user_group = 'mental') as municipalities_participating_mental,
    count(distinct municipality_code) / 20 as share_municipalities_participating,
    20000 as population_16plus, count(distinct municipality_code) * 1000 as population_16plus_covered,
    count(distinct municipality_code) filter (where user_group != 'mental') * 1000 as population_16plus_covered_rus,
    count(distinct municipality_code) filter (where user_group = 'mental') * 1000
        as population_16plus_covered_mental,
    count(distinct municipality_code) * 1000 / 20000 as share_population_covered,
    count(distinct municipality_code) * 2 as agencies, count(distinct municipality_code) as submissions,
    sum(n_registrations)::bigint as registrations, count(*) as persons,
    count(distinct mapping_year) over (partition by geo_level, geo_code) as years_participating,
    'see mart' as participation_years
from person_geo group by geo_level, geo_code, mapping_year;
"""

DATA_QUALITY = """
create table marts.mart_data_quality as
with counts as (
    select municipality_code as municipality_code_registered, mapping_year,
        'sub' || municipality_code || mapping_year as submission_id,
        sum(n_registrations)::bigint as registrations_landed,
        count(*) filter (where person_id % 7 = 0) as rejected_r01,
        count(*) filter (where person_id % 11 = 0) as rejected_r02,
        count(*) filter (where person_id % 13 = 0) as rejected_r03,
        (sum(n_registrations) - count(*))::bigint as duplicates_removed,
        count(*) as persons
    from persons group by all
)
select municipality_code_registered, mapping_year, submission_id, municipality_code_registered || '.csv' as source_file,
    'municipality' as scope, 'v3' as layout, date '2024-01-01' as delivered_on, 1 as delivery_seq,
    false as is_quarantined, null::varchar as quarantine_rule_id, true as is_current,
    registrations_landed + rejected_r01 + rejected_r02 + rejected_r03 as registrations_raw, registrations_landed,
    rejected_r01 + rejected_r02 + rejected_r03 as rejected, rejected_r01, rejected_r02, rejected_r03,
    0::bigint as superseded, duplicates_removed, 0::bigint as duplicates_cross_municipality, persons,
    0 as quarantined_files
from counts;
"""

CORE = """
create schema if not exists core;
create table core.fct_person_year as
select person_id, mapping_year, 'r' || person_id as registration_id, municipality_code,
    municipality_code as municipality_code_registered, user_group, sex, mapping_year - age as birth_year, age
from persons;
create table core.dedup_audit as
select 'sub' as submission_id, 'r' || person_id as registration_id, person_id, mapping_year
from persons where n_registrations > 1;
create table core.dim_municipality as
select distinct municipality_code as municipality_code_registered, date '1900-01-01' as valid_from,
    'Municipality ' || municipality_code as name, left(municipality_code, 2) as county_code_registered,
    null::date as valid_to, municipality_code, 'Municipality ' || municipality_code as municipality_name,
    left(municipality_code, 2) as county_code, 'County ' || left(municipality_code, 2) as county_name,
    false as is_approximate
from persons;
create table core.dim_county as
select distinct left(municipality_code, 2) as county_code, 'County ' || left(municipality_code, 2) as name
from persons;
create table core.dim_service as
select * from (values {services}) v(service_code, sort_order, level);
create table core.dim_agency as select * from (values ('01', 'substance service')) v(agency_code, label_en);
create table core.dim_area as select * from (values {areas}) v(area_code, sort_order);
create schema if not exists staging;
create view staging.stg_landing__registrations as select person_id, mapping_year from persons;
"""


def make_warehouse(path: Path, shape: FixtureShape | None = None) -> Path:
    """Write the warehouse file at path (replacing it) with a green build record, as a `dbt build` leaves it."""
    shape = shape or FixtureShape()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    areas = ", ".join(f"('{a}', {i})" for i, a in enumerate([*AREAS, INDEX], start=1))
    services = ", ".join(f"('{s}', {i}, 'municipal')" for i, s in enumerate(SERVICES, start=1))
    con = duckdb.connect(str(path))
    try:
        con.register("persons_arrow", _persons(shape))
        con.execute("create table persons as select * from persons_arrow")
        con.unregister("persons_arrow")
        con.execute(GEO)
        con.execute(TRENDS)
        con.execute(LIVING.format(area_columns=", ".join(f"area_{a}" for a in [*AREAS, INDEX]), areas=areas))
        con.execute(HOUSING)
        con.execute(SERVICES_SQL.format(status_columns=", ".join(f"status_{s}" for s in SERVICES), services=services))
        con.execute(PARTICIPATION)
        con.execute(DATA_QUALITY)
        con.execute(CORE.format(services=services, areas=areas))
    finally:
        con.close()
    write_build_record(path)
    return path


# The table exactly as the dbt hooks create it (macros/build_record.sql); tests/warehouse/test_build_record.py
# checks it against the table a real `dbt build` writes.
BUILD_RECORD_TABLE = re.search(
    r"create schema if not exists meta;.*?\n    \);",
    (PROJECT_DIR / "macros" / "build_record.sql").read_text(encoding="utf-8"),
    re.DOTALL,
).group(0)  # type: ignore[union-attr]


def write_build_record(
    warehouse: Path,
    status: str = "green",
    command: str = "build",
    submissions: tuple[str, ...] = (),
    failing: tuple[tuple[str, str], ...] = (),
) -> str:
    """Append the record of a later dbt invocation to the warehouse (status green, not green or running; failing
    nodes as (unique id, status)); returns its invocation id."""
    invocation = str(uuid.uuid4())
    finished = status != "running"
    counts = {"success": 2, "pass": 3}
    for _, node_status in failing:
        counts[node_status] = counts.get(node_status, 0) + 1
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(BUILD_RECORD_TABLE)
        con.execute(
            """
            insert into meta.build_record
            select ?, ?, null, current_timestamp, case when ? then current_timestamp end, ?,
                case when ? then ?::integer end, case when ? then ?::map(varchar, integer) end,
                [{'node': f[1], 'status': f[2], 'message': 'simulated'} for f in ?::varchar[][]], ?::varchar[],
                null, '1.11.16'
            """,
            [
                invocation,
                command,
                finished,
                status,
                finished,
                sum(counts.values()),
                finished,
                counts,
                [list(f) for f in failing],
                list(submissions),
            ],
        )
    finally:
        con.close()
    return invocation
