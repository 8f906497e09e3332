-- Participation: per geography and mapping year, how many registered municipalities were in force and how
-- many participated (rule 7), the population they cover, and the agencies, submissions and current
-- registrations behind the figures. Unlike the other marts, every geography in force has a row in every
-- mapping year with data (non-participation is the fact shown here: zero participating municipalities).
{% set geo_year = ['geo_level', 'geo_code', 'mapping_year'] %}  {#- a geography in a mapping year -#}
{% set registered_year = ['mapping_year', 'municipality_code_registered'] %}  {#- a registered municipality-year -#}

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

participating as (
    -- the groups a registered municipality participated for in a mapping year
    select
        mapping_year,
        municipality_code_registered,
        bool_or(user_group = 'all') as participates,
        bool_or(user_group = 'rus') as participates_rus,
        bool_or(user_group = 'mental') as participates_mental
    from participation
    group by all
),

municipality_years as (
    -- every registered municipality in force in a mapping year with data, with what it did that year
    select
        population.mapping_year,
        population.municipality_code_registered,
        population.municipality_code,
        population.population_16plus,
        coalesce(participating.participates, false) as participates,
        coalesce(participating.participates_rus, false) as participates_rus,
        coalesce(participating.participates_mental, false) as participates_mental
    from population
    left join participating
        on {{ same_keys('population', 'participating', registered_year) }}
    where population.mapping_year in (select participation.mapping_year from participation)
),

registrations_harmonised as (
    select
        current_registrations.mapping_year,
        current_registrations.submission_id,
        current_registrations.agency_code,
        population.municipality_code
    from current_registrations
    inner join population
        on {{ same_keys('current_registrations', 'population', registered_year) }}
),

municipalities_rolled_up as (
    {% call aggregate_over_geographies('municipality_years') %}
        count(*) as municipalities_in_force,
        count(*) filter (where participates) as municipalities_participating,
        count(*) filter (where participates_rus) as municipalities_participating_rus,
        count(*) filter (where participates_mental) as municipalities_participating_mental,
        sum(population_16plus) as population_16plus,
        coalesce(sum(population_16plus) filter (where participates), 0) as population_16plus_covered,
        coalesce(sum(population_16plus) filter (where participates_rus), 0) as population_16plus_covered_rus,
        coalesce(sum(population_16plus) filter (where participates_mental), 0) as population_16plus_covered_mental
    {% endcall %}
),

registrations_rolled_up as (
    {% call aggregate_over_geographies('registrations_harmonised') %}
        count(distinct agency_code) as agencies,
        count(distinct submission_id) as submissions,
        count(*) as registrations
    {% endcall %}
),

persons_rolled_up as (
    {% call aggregate_over_geographies('persons') %}
        count(*) as persons
    {% endcall %}
),

combined as (
    select
        municipalities_rolled_up.*,
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
    combined.geo_name,
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
left join participation_history
    on
        combined.geo_level = participation_history.geo_level
        and combined.geo_code = participation_history.geo_code
