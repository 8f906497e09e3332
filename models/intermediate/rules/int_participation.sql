-- Rule 7 (participation): which municipality, as registered, participates in which mapping year for which
-- user group. A municipality participates for a group when it has at least one current registration
-- (rule 1, before de-duplication) of that group's target population: any registration for `all`, target group
-- rus for `rus` and its four subgroups, target group mental for `mental`. Each participating municipality
-- carries its population (rule 6) and its harmonised municipality and county (rule 5), so rate denominators
-- can be summed over the participating municipalities of any geography.

with

current_registrations as (
    select
        mapping_year,
        municipality_code_registered,
        target_group
    from {{ ref('int_current_submission') }}
    where is_current
),

population as (
    select
        year as mapping_year,
        municipality_code_registered,
        municipality_code,
        county_code,
        population_16plus,
        population_18plus
    from {{ ref('int_population') }}
),

group_rollup as (
    select
        finest_group,
        user_group
    from {{ ref('int_user_group_rollup') }}
),

participation as (
    -- any current registration: the municipality participates for `all`
    select distinct
        mapping_year,
        municipality_code_registered,
        'all' as user_group
    from current_registrations

    union

    -- a registration of a target group: that group
    select distinct
        mapping_year,
        municipality_code_registered,
        target_group as user_group
    from current_registrations

    union

    -- ... and every finest group within it (zero counts where a subgroup is empty)
    select distinct
        registrations.mapping_year,
        registrations.municipality_code_registered,
        group_rollup.finest_group as user_group
    from current_registrations as registrations
    inner join group_rollup
        on registrations.target_group = group_rollup.user_group
)

select
    participation.mapping_year,
    participation.municipality_code_registered,
    participation.user_group,
    population.municipality_code,
    population.county_code,
    population.population_16plus,
    population.population_18plus
from participation
left join population
    on
        participation.mapping_year = population.mapping_year
        and participation.municipality_code_registered = population.municipality_code_registered
