-- Living conditions: persons per colour of each of the eight living-condition areas (levekårsområder) and of the
-- living-condition index (levekårsindeks, which also has `blue` = blålys), per participating geography, mapping
-- year and user group. Every colour has a row (zero when no person has it), so colours add up to persons.

with

participation as (
    select
        geo_level,
        geo_code,
        geo_name,
        mapping_year,
        user_group
    from {{ ref('int_participation_geography') }}
),

persons as (
    select
        mapping_year,
        municipality_code,
        user_group as finest_group,
        -- a blank colour is unknown (unpivot would drop nulls)
        coalesce(area_housing, 'unknown') as area_housing,
        coalesce(area_activity, 'unknown') as area_activity,
        coalesce(area_economy, 'unknown') as area_economy,
        coalesce(area_physical_health, 'unknown') as area_physical_health,
        coalesce(area_mental_health, 'unknown') as area_mental_health,
        coalesce(area_substance_use, 'unknown') as area_substance_use,
        coalesce(area_social_functioning, 'unknown') as area_social_functioning,
        coalesce(area_network, 'unknown') as area_network,
        coalesce(living_index, 'unknown') as living_index
    from {{ ref('fct_person_year') }}
),

areas as (
    select
        area_code as area,
        sort_order as area_order
    from {{ ref('stg_codes__areas') }}
),

colours as (
    select
        colour,
        sort_order as colour_order,
        applies_to
    from {{ ref('stg_codes__colours') }}
),

group_rollup as (
    select
        finest_group,
        user_group
    from {{ ref('int_user_group_rollup') }}
),

area_colours as (
    -- the eight areas take every colour that applies to areas; the index takes every colour
    select
        areas.area,
        areas.area_order,
        colours.colour,
        colours.colour_order
    from areas
    cross join colours
    where colours.applies_to = 'area_and_index'

    union all

    select
        'living_index' as area,
        (select max(areas.area_order) + 1 from areas) as area_order,
        colours.colour,
        colours.colour_order
    from colours
),

person_areas as (
    select
        mapping_year,
        municipality_code,
        finest_group,
        area,
        colour
    from persons
    unpivot (
        colour for area in (
            area_housing as housing,
            area_activity as activity,
            area_economy as economy,
            area_physical_health as physical_health,
            area_mental_health as mental_health,
            area_substance_use as substance_use,
            area_social_functioning as social_functioning,
            area_network as network,
            living_index
        )
    )
),

geography_rollup as (
    select
        municipality_code,
        geo_level,
        geo_code
    from {{ ref('int_geography_rollup') }}
),

finest_counts as (
    select
        mapping_year,
        municipality_code,
        finest_group,
        area,
        colour,
        count(*) as persons
    from person_areas
    group by all
),

rolled_up as (
    select
        finest_counts.mapping_year,
        group_rollup.user_group,
        finest_counts.area,
        finest_counts.colour,
        geography_rollup.geo_level,
        geography_rollup.geo_code,
        sum(finest_counts.persons) as persons
    from finest_counts
    inner join group_rollup
        on finest_counts.finest_group = group_rollup.finest_group
    inner join geography_rollup
        on finest_counts.municipality_code = geography_rollup.municipality_code
    group by
        finest_counts.mapping_year,
        group_rollup.user_group,
        finest_counts.area,
        finest_counts.colour,
        geography_rollup.geo_level,
        geography_rollup.geo_code
),

grid as (
    select
        participation.geo_level,
        participation.geo_code,
        participation.geo_name,
        participation.mapping_year,
        participation.user_group,
        area_colours.area,
        area_colours.area_order,
        area_colours.colour,
        area_colours.colour_order,
        coalesce(rolled_up.persons, 0) as persons
    from participation
    cross join area_colours
    left join rolled_up
        on
            participation.geo_level = rolled_up.geo_level
            and participation.geo_code = rolled_up.geo_code
            and participation.mapping_year = rolled_up.mapping_year
            and participation.user_group = rolled_up.user_group
            and area_colours.area = rolled_up.area
            and area_colours.colour = rolled_up.colour
),

with_totals as (
    select
        *,
        sum(persons) over area_cell as persons_in_area,
        sum(persons) filter (where colour != 'unknown') over area_cell as persons_known
    from grid
    window area_cell as (partition by geo_level, geo_code, mapping_year, user_group, area)
)

select
    geo_level,
    geo_code,
    geo_name,
    mapping_year,
    user_group,
    area,
    area_order,
    colour,
    colour_order,
    persons,
    persons_known,
    persons_in_area,
    case when colour != 'unknown' then persons / nullif(persons_known, 0) end as share,
    persons / nullif(persons_in_area, 0) as share_of_all
from with_totals
