"""Every figure of the synthetic ground truth (docs/truth.md) reconciles exactly with the marts, after
harmonising the truth with the same map (largest-weight successor in seeds/reference/municipality_map_2024.csv)
and summing finest groups into coarser ones and municipalities into counties and the country. The expected
figures are computed here from the truth files, independently of the dbt models."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import ChainRun

pytestmark = pytest.mark.slow

# Rule 4, written out independently of the code list: which groups a finest group counts in.
GROUPS = """
    (values
        ('rus_only', 'rus_only'), ('rus_only', 'rus'), ('rus_only', 'all'),
        ('rop_less_serious', 'rop_less_serious'), ('rop_less_serious', 'rus'), ('rop_less_serious', 'all'),
        ('rop_serious', 'rop_serious'), ('rop_serious', 'rus'), ('rop_serious', 'all'),
        ('rus_mental_unknown', 'rus_mental_unknown'), ('rus_mental_unknown', 'rus'),
        ('rus_mental_unknown', 'all'),
        ('mental', 'mental'), ('mental', 'all')
    ) as g(finest_group, user_group)
"""

# Groups a registered municipality participates for, per target group of its current registrations (rule 7).
PARTICIPATION_GROUPS = """
    (values
        ('rus', 'all'), ('rus', 'rus'), ('rus', 'rus_only'), ('rus', 'rop_less_serious'), ('rus', 'rop_serious'),
        ('rus', 'rus_mental_unknown'), ('mental', 'all'), ('mental', 'mental')
    ) as pg(target_group, user_group)
"""

# Registered code -> harmonised municipality and county (2024 structure: a code's first two digits are its county).
HARMONISED = """
    (select
        municipality_code as registered,
        arg_max(code_2024, weight) as municipality_code,
        left(arg_max(code_2024, weight), 2) as county_code
    from ref_map group by municipality_code) as h
"""


def _expanded(truth: str) -> str:
    return f"""
        select t.*, h.municipality_code, h.county_code, g.user_group as rolled_group
        from {truth} as t
        join {HARMONISED} on t.municipality_code_registered = h.registered
        join {GROUPS} on t.user_group = g.finest_group
    """


def truth_rollup(truth: str, measures: list[str], keys: tuple[str, ...] = ()) -> str:
    key_cols = "".join(f", {k}" for k in keys)
    sums = ", ".join(f"sum({m})::bigint as {m}" for m in measures)
    base = _expanded(truth)
    return " union all ".join(
        f"""select '{level}' as geo_level, {code} as geo_code, mapping_year, rolled_group as user_group{key_cols},
                   {sums}
            from ({base}) group by all"""
        for level, code in (("municipality", "municipality_code"), ("county", "county_code"), ("country", "'NO'"))
    )


def participation_grid() -> str:
    """Participating geography, year and group, with participating municipalities and population (rule 7)."""
    base = f"""
        select distinct p.mapping_year, p.municipality_code_registered, pg.user_group, h.municipality_code,
            h.county_code, pop.population_16plus, pop.population_18plus
        from truth_participation as p
        join {PARTICIPATION_GROUPS} on p.target_group = pg.target_group
        join {HARMONISED} on p.municipality_code_registered = h.registered
        join ref_population as pop
            on pop.year = p.mapping_year and pop.municipality_code = p.municipality_code_registered
        where p.current_registrations > 0
    """
    return " union all ".join(
        f"""select '{level}' as geo_level, {code} as geo_code, mapping_year, user_group,
                   count(*) as participating_municipalities, sum(population_16plus)::bigint as population_16plus,
                   sum(population_18plus)::bigint as population_18plus
            from ({base}) group by all"""
        for level, code in (("municipality", "municipality_code"), ("county", "county_code"), ("country", "'NO'"))
    )


def assert_same_rows(con: duckdb.DuckDBPyConnection, actual: str, expected: str, what: str) -> None:
    missing = con.execute(f"select * from ({expected}) except all select * from ({actual}) limit 10").fetchall()
    extra = con.execute(f"select * from ({actual}) except all select * from ({expected}) limit 10").fetchall()
    count = con.execute(f"select count(*) from ({expected})").fetchone()[0]
    assert count > 0, f"{what}: the ground truth has no rows to compare"
    assert not missing and not extra, f"{what}: expected but not in the mart {missing}; in the mart only {extra}"


def test_dbt_tests_of_the_marts_pass(chain: ChainRun) -> None:
    """Data tests (keys, ranges, invariants), unit tests and the singular assert_mart_* tests, on generated data."""
    assert chain.mart_tests.success, chain.mart_tests.failures
    assert chain.mart_tests.counts.get("pass", 0) >= 20  # one column_constraints test per model checks many columns


def test_trends_rows_are_exactly_the_participating_geographies(warehouse: duckdb.DuckDBPyConnection) -> None:
    actual = """select geo_level, geo_code, mapping_year, user_group, participating_municipalities,
                       population_16plus, population_18plus from brukerplan.marts.mart_trends"""
    assert_same_rows(warehouse, actual, participation_grid(), "mart_trends participation and denominators")


def test_trends_persons_reconcile(warehouse: duckdb.DuckDBPyConnection) -> None:
    measures = ["persons", "persons_18plus", "men", "sum_age"]
    expected = f"""select geo_level, geo_code, mapping_year, user_group, persons, persons_18plus, men,
                          sum_age / persons as mean_age
                   from ({truth_rollup("truth_persons", measures)})"""
    actual = """select geo_level, geo_code, mapping_year, user_group, persons, persons_18plus, men, mean_age
                from brukerplan.marts.mart_trends where persons > 0"""
    assert_same_rows(warehouse, actual, expected, "mart_trends persons")
    zero_rows_with_mean = warehouse.execute(
        """select count(*) from brukerplan.marts.mart_trends
           where persons = 0 and (mean_age is not null or share_men is not null)"""
    ).fetchone()[0]
    assert zero_rows_with_mean == 0


def test_trends_rates_and_previous_mapping(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = f"""
        with grid as ({participation_grid()}),
        persons as ({truth_rollup("truth_persons", ["persons", "persons_18plus"])}),
        figures as (
            select grid.*, coalesce(persons.persons, 0) as persons,
                coalesce(persons.persons_18plus, 0) as persons_18plus,
                lag(grid.mapping_year) over (
                    partition by grid.geo_level, grid.geo_code, grid.user_group order by grid.mapping_year
                ) as previous_mapping_year
            from grid left join persons using (geo_level, geo_code, mapping_year, user_group)
        )
        select geo_level, geo_code, mapping_year, user_group, previous_mapping_year,
            round(1000.0 * persons / population_16plus, 9) as rate_16,
            round(1000.0 * persons_18plus / population_18plus, 9) as rate_18
        from figures
    """
    actual = """select geo_level, geo_code, mapping_year, user_group, previous_mapping_year,
                       round(rate_per_1000_16plus, 9), round(rate_per_1000_18plus, 9)
                from brukerplan.marts.mart_trends"""
    assert_same_rows(warehouse, actual, expected, "mart_trends rates and previous mapping")
    broken_change = warehouse.execute(
        """select count(*) from brukerplan.marts.mart_trends as t
           join brukerplan.marts.mart_trends as p
             on p.geo_level = t.geo_level and p.geo_code = t.geo_code and p.user_group = t.user_group
            and p.mapping_year = t.previous_mapping_year
           where t.change_persons != t.persons - p.persons or t.previous_persons != p.persons"""
    ).fetchone()[0]
    assert broken_change == 0


def test_national_totals_are_identical_as_registered_and_harmonised(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = "select mapping_year, sum(persons)::bigint from truth_persons group by all"
    actual = """select mapping_year, persons from brukerplan.marts.mart_trends
                where geo_level = 'country' and user_group = 'all'"""
    assert_same_rows(warehouse, actual, expected, "national persons")


def test_living_conditions_reconcile(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = truth_rollup("truth_living_conditions", ["persons"], keys=("area", "colour"))
    actual = """select geo_level, geo_code, mapping_year, user_group, area, colour, persons
                from brukerplan.marts.mart_living_conditions where persons > 0"""
    assert_same_rows(warehouse, actual, expected, "mart_living_conditions")


def test_housing_reconciles(warehouse: duckdb.DuckDBPyConnection) -> None:
    measures = ["housing_red", "housing_yellow", "persons_with_children_red_yellow", "children_red_yellow"]
    expected = f"""select * from ({truth_rollup("truth_housing", measures)})
                   where housing_red + housing_yellow > 0"""
    actual = f"""select geo_level, geo_code, mapping_year, user_group, {", ".join(measures)}
                 from brukerplan.marts.mart_housing where housing_red + housing_yellow > 0"""
    assert_same_rows(warehouse, actual, expected, "mart_housing")


def test_services_reconcile(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The truth's received/recommended count every known set containing the service (the mart's *_in_known_set);
    the statuses count persons with both sets known (the mart's received = continue + end)."""
    column_of = {  # truth measure: mart column
        "received_known": "received_set_known",
        "recommended_known": "recommended_set_known",
        "received": "received_in_known_set",
        "recommended": "recommended_in_known_set",
        "status_continue": "status_continue",
        "status_new": "status_new",
        "status_end": "status_end",
        "status_none": "status_none",
        "status_unknown": "persons_status_unknown",
    }
    expected = f"""select * from ({truth_rollup("truth_services", list(column_of), keys=("service_code",))})"""
    actual = f"""select geo_level, geo_code, mapping_year, user_group, service_code, {", ".join(column_of.values())}
                 from brukerplan.marts.mart_services
                 where persons_status_known + persons_status_unknown > 0"""
    assert_same_rows(warehouse, actual, expected, "mart_services")
    broken = warehouse.execute(
        """select count(*) from brukerplan.marts.mart_services
           where received != status_continue + status_end or recommended != status_continue + status_new
              or gap != recommended - received"""
    ).fetchone()[0]
    assert broken == 0


def test_services_only_where_asked(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = "select distinct mapping_year, service_code from truth_services"
    actual = "select distinct mapping_year, service_code from brukerplan.marts.mart_services"
    assert_same_rows(warehouse, actual, expected, "services asked per year")


def test_received_at_next_mapping_reconciles(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The next-mapping view recomputed from the truth's person-years, at municipality level, group all."""
    expected = f"""
        with people as (
            select p.person_id, p.mapping_year, h.municipality_code, p.services_received
            from truth_person_year as p
            join {HARMONISED} on p.municipality_code_registered = h.registered
        ),
        years as (
            select distinct p.mapping_year, h.municipality_code
            from truth_participation as p
            join {HARMONISED} on p.municipality_code_registered = h.registered
            where p.current_registrations > 0
        ),
        next_year as (
            select mapping_year, municipality_code,
                lead(mapping_year) over (partition by municipality_code order by mapping_year) as next_mapping_year
            from years
        ),
        asked as (select distinct mapping_year, service_code from truth_services),
        followed as (
            select this.person_id, this.mapping_year, this.municipality_code, n.next_mapping_year,
                later.services_received
            from people as this
            join next_year as n using (mapping_year, municipality_code)
            join people as later
              on later.person_id = this.person_id and later.mapping_year = n.next_mapping_year
             and later.municipality_code = this.municipality_code
        )
        select f.municipality_code, f.mapping_year, a.service_code,
            count(*) filter (where list_contains(f.services_received, a.service_code)) as received_at_next_mapping
        from followed as f
        join asked as a on a.mapping_year = f.next_mapping_year
        join asked as this_year on this_year.mapping_year = f.mapping_year and this_year.service_code = a.service_code
        group by all
        having received_at_next_mapping > 0
    """
    actual = """select geo_code, mapping_year, service_code, received_at_next_mapping
                from brukerplan.marts.mart_services
                where geo_level = 'municipality' and user_group = 'all' and received_at_next_mapping > 0"""
    assert_same_rows(warehouse, actual, expected, "received at next mapping")


def test_data_quality_reconciles(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = """select municipality_code_registered, mapping_year, submission_id, registrations_raw, superseded,
                          duplicates_removed, duplicates_cross_municipality, persons
                   from truth_audit_submissions"""
    actual = """select municipality_code_registered, mapping_year, submission_id, registrations_raw, superseded,
                       duplicates_removed, duplicates_cross_municipality, persons
                from brukerplan.marts.mart_data_quality where not is_quarantined"""
    assert_same_rows(warehouse, actual, expected, "mart_data_quality")


def test_participation_mart_reconciles(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = f"""
        select geo_level, geo_code, mapping_year, participating_municipalities, population_16plus
        from ({participation_grid()}) where user_group = 'all'
    """
    actual = """select geo_level, geo_code, mapping_year, municipalities_participating, population_16plus_covered
                from brukerplan.marts.mart_participation where is_participating"""
    assert_same_rows(warehouse, actual, expected, "mart_participation")
    registrations = """select mapping_year, sum(current_registrations)::bigint from truth_participation group by all"""
    actual_registrations = """select mapping_year, registrations from brukerplan.marts.mart_participation
                              where geo_level = 'country'"""
    assert_same_rows(warehouse, actual_registrations, registrations, "current registrations")
