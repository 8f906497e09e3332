-- Rule 7 (participation and previous mapping) at every geography of the marts: one row per participating
-- geography (harmonised municipality, county in the target structure, country), mapping year and user group.
-- A geography participates when any of its registered municipalities does; its population is the sum over
-- those participating registered municipalities only. The previous mapping of a geography for a group is its
-- latest earlier participating year (not simply year - 1); the next mapping its earliest later one.

with

participation as (
    select
        mapping_year,
        municipality_code_registered,
        user_group,
        municipality_code,
        county_code,
        population_16plus,
        population_18plus
    from {{ ref('int_participation') }}
),

rolled_up as (
    {% call aggregate_over_geographies('participation', by=['mapping_year', 'user_group']) %}
        min(county_code) as county_code,
        count(*) as participating_municipalities,
        count(distinct municipality_code) as participating_municipalities_harmonised,
        sum(population_16plus) as population_16plus,
        sum(population_18plus) as population_18plus
    {% endcall %}
),

with_neighbours as (
    select
        rolled_up.*,
        lag(rolled_up.mapping_year) over geography_group as previous_mapping_year,
        lead(rolled_up.mapping_year) over geography_group as next_mapping_year
    from rolled_up
    window geography_group as (
        partition by rolled_up.geo_level, rolled_up.geo_code, rolled_up.user_group
        order by rolled_up.mapping_year
    )
)

select
    geo_level,
    geo_code,
    geo_name,
    case when geo_level != 'country' then county_code end as county_code,
    mapping_year,
    user_group,
    participating_municipalities,
    participating_municipalities_harmonised,
    population_16plus,
    population_18plus,
    previous_mapping_year,
    next_mapping_year
from with_neighbours
