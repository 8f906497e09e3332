-- Participation: per geography and mapping year, how many registered municipalities were in force and how
-- many participated (rule 7), the population they cover, and the agencies, submissions and current
-- registrations behind the figures. Unlike the other marts, every geography in force has a row in every
-- mapping year with data (non-participation is the fact shown here: zero participating municipalities).
{% set geo_year = ['geo_level', 'geo_code', 'mapping_year'] %}  {#- a geography in a mapping year -#}

with

population as (
    select
        year as mapping_year,
        municipality_code_registered,
        municipality_code,
        population_16plus
    from {{ ref('int_population') }}
),

participation as (
    select
        mapping_year,
        municipality_code_registered,
        user_group
    from {{ ref('int_participation') }}
    where user_group in ('all', 'rus', 'mental')
),

current_registrations as (
    select
        mapping_year,
        municipality_code_registered,
        submission_id,
        agency_code
    from {{ ref('int_current_submission') }}
    where is_current
),

persons as (
    select
        mapping_year,
        municipality_code
    from {{ ref('fct_person_year') }}
),

geographies as (
    select
        geo_level,
        geo_code,
        geo_name
    from {{ ref('int_geographies') }}
),

geography_rollup as (
    select
        municipality_code,
        geo_level,
        geo_code
    from {{ ref('int_geography_rollup') }}
),

mapping_years as (
    select distinct mapping_year
    from participation
),

municipality_years as (
    -- every registered municipality in force in a mapping year with data, with what it did that year
    select
        population.mapping_year,
        population.municipality_code_registered,
        population.municipality_code,
        population.population_16plus,
        participated_all.user_group is not null as participates,
        participated_rus.user_group is not null as participates_rus,
        participated_mental.user_group is not null as participates_mental
    from population
    inner join mapping_years
        on population.mapping_year = mapping_years.mapping_year
    left join participation as participated_all
        on
            population.mapping_year = participated_all.mapping_year
            and population.municipality_code_registered = participated_all.municipality_code_registered
            and participated_all.user_group = 'all'
    left join participation as participated_rus
        on
            population.mapping_year = participated_rus.mapping_year
            and population.municipality_code_registered = participated_rus.municipality_code_registered
            and participated_rus.user_group = 'rus'
    left join participation as participated_mental
        on
            population.mapping_year = participated_mental.mapping_year
            and population.municipality_code_registered = participated_mental.municipality_code_registered
            and participated_mental.user_group = 'mental'
),

registrations_harmonised as (
    select
        current_registrations.mapping_year,
        current_registrations.submission_id,
        current_registrations.agency_code,
        population.municipality_code
    from current_registrations
    inner join population
        on
            current_registrations.mapping_year = population.mapping_year
            and current_registrations.municipality_code_registered = population.municipality_code_registered
),

municipalities_rolled_up as (
    select
        municipality_years.mapping_year,
        geography_rollup.geo_level,
        geography_rollup.geo_code,
        count(*) as municipalities_in_force,
        count(*) filter (where municipality_years.participates) as municipalities_participating,
        count(*) filter (where municipality_years.participates_rus) as municipalities_participating_rus,
        count(*) filter (where municipality_years.participates_mental) as municipalities_participating_mental,
        sum(municipality_years.population_16plus) as population_16plus,
        coalesce(sum(municipality_years.population_16plus) filter (where municipality_years.participates), 0)
            as population_16plus_covered,
        coalesce(sum(municipality_years.population_16plus) filter (where municipality_years.participates_rus), 0)
            as population_16plus_covered_rus,
        coalesce(sum(municipality_years.population_16plus) filter (where municipality_years.participates_mental), 0)
            as population_16plus_covered_mental
    from municipality_years
    inner join geography_rollup
        on municipality_years.municipality_code = geography_rollup.municipality_code
    group by municipality_years.mapping_year, geography_rollup.geo_level, geography_rollup.geo_code
),

registrations_rolled_up as (
    select
        registrations_harmonised.mapping_year,
        geography_rollup.geo_level,
        geography_rollup.geo_code,
        count(distinct registrations_harmonised.agency_code) as agencies,
        count(distinct registrations_harmonised.submission_id) as submissions,
        count(*) as registrations
    from registrations_harmonised
    inner join geography_rollup
        on registrations_harmonised.municipality_code = geography_rollup.municipality_code
    group by registrations_harmonised.mapping_year, geography_rollup.geo_level, geography_rollup.geo_code
),

persons_rolled_up as (
    select
        persons.mapping_year,
        geography_rollup.geo_level,
        geography_rollup.geo_code,
        count(*) as persons
    from persons
    inner join geography_rollup
        on persons.municipality_code = geography_rollup.municipality_code
    group by persons.mapping_year, geography_rollup.geo_level, geography_rollup.geo_code
),

combined as (
    select
        municipalities_rolled_up.geo_level,
        municipalities_rolled_up.geo_code,
        municipalities_rolled_up.mapping_year,
        municipalities_rolled_up.municipalities_in_force,
        municipalities_rolled_up.municipalities_participating,
        municipalities_rolled_up.municipalities_participating_rus,
        municipalities_rolled_up.municipalities_participating_mental,
        municipalities_rolled_up.population_16plus,
        municipalities_rolled_up.population_16plus_covered,
        municipalities_rolled_up.population_16plus_covered_rus,
        municipalities_rolled_up.population_16plus_covered_mental,
        municipalities_rolled_up.municipalities_participating > 0 as is_participating,
        coalesce(registrations_rolled_up.agencies, 0) as agencies,
        coalesce(registrations_rolled_up.submissions, 0) as submissions,
        coalesce(registrations_rolled_up.registrations, 0) as registrations,
        coalesce(persons_rolled_up.persons, 0) as persons
    from municipalities_rolled_up
    left join registrations_rolled_up
        on {{ same_keys('municipalities_rolled_up', 'registrations_rolled_up', geo_year) }}
    left join persons_rolled_up
        on {{ same_keys('municipalities_rolled_up', 'persons_rolled_up', geo_year) }}
),

participation_history as (
    select
        geo_level,
        geo_code,
        string_agg(mapping_year::varchar, ', ' order by mapping_year) as participation_years,
        count(*) as years_participating
    from combined
    where is_participating
    group by geo_level, geo_code
)

select
    combined.geo_level,
    combined.geo_code,
    geographies.geo_name,
    combined.mapping_year,
    combined.is_participating,
    combined.municipalities_in_force,
    combined.municipalities_participating,
    combined.municipalities_participating_rus,
    combined.municipalities_participating_mental,
    combined.municipalities_participating / nullif(combined.municipalities_in_force, 0)
        as share_municipalities_participating,
    combined.population_16plus,
    combined.population_16plus_covered,
    combined.population_16plus_covered_rus,
    combined.population_16plus_covered_mental,
    combined.population_16plus_covered / nullif(combined.population_16plus, 0) as share_population_covered,
    combined.agencies,
    combined.submissions,
    combined.registrations,
    combined.persons,
    coalesce(participation_history.years_participating, 0) as years_participating,
    participation_history.participation_years
from combined
left join geographies
    on
        combined.geo_level = geographies.geo_level
        and combined.geo_code = geographies.geo_code
left join participation_history
    on
        combined.geo_level = participation_history.geo_level
        and combined.geo_code = participation_history.geo_code
