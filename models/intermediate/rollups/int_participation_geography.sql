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

geo_names as (
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

rolled_up as (
    select
        participation.mapping_year,
        participation.user_group,
        geography_rollup.geo_level,
        geography_rollup.geo_code,
        min(participation.county_code) as county_code,
        count(*) as participating_municipalities,
        count(distinct participation.municipality_code) as participating_municipalities_harmonised,
        sum(participation.population_16plus) as population_16plus,
        sum(participation.population_18plus) as population_18plus
    from participation
    inner join geography_rollup
        on participation.municipality_code = geography_rollup.municipality_code
    group by
        participation.mapping_year,
        participation.user_group,
        geography_rollup.geo_level,
        geography_rollup.geo_code
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
    with_neighbours.geo_level,
    with_neighbours.geo_code,
    geo_names.geo_name,
    case when with_neighbours.geo_level != 'country' then with_neighbours.county_code end as county_code,
    with_neighbours.mapping_year,
    with_neighbours.user_group,
    with_neighbours.participating_municipalities,
    with_neighbours.participating_municipalities_harmonised,
    with_neighbours.population_16plus,
    with_neighbours.population_18plus,
    with_neighbours.previous_mapping_year,
    with_neighbours.next_mapping_year
from with_neighbours
left join geo_names
    on
        with_neighbours.geo_level = geo_names.geo_level
        and with_neighbours.geo_code = geo_names.geo_code
