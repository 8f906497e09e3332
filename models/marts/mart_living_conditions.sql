{{ config(**per_year_config()) }}  -- per mapping year (decisions W6, W9)
-- Living conditions: persons per colour of each of the eight living-condition areas (levekårsområder) and of the
-- living-condition index (levekårsindeks, which also has `blue` = blålys), per participating geography, mapping
-- year and user group. Every colour has a row (zero when no person has it), so colours add up to persons.

with

persons as (
    select
        mapping_year,
        municipality_code,
        user_group,
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
    where {{ in_build_years() }}
),

areas as (
    select
        area_code as area,
        sort_order as area_order,
        is_index
    from {{ ref('dim_area') }}
),

colours as (
    select
        colour,
        sort_order as colour_order,
        is_index_only
    from {{ ref('dim_colour') }}
),

area_colours as (
    -- the eight areas take every colour but those of the index only; the index takes every colour
    select
        areas.area,
        areas.area_order,
        colours.colour,
        colours.colour_order
    from areas
    cross join colours
    where areas.is_index or not colours.is_index_only
),

person_areas as (
    select
        mapping_year,
        municipality_code,
        user_group,
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

rolled_up as (
    {% call rollup_to_participating('person_areas', keys=['area', 'colour'], key_values='area_colours') %}
        count(*) as persons
    {% endcall %}
),

with_totals as (
    select
        *,
        sum(persons) over area_cell as persons_in_area,
        sum(persons) filter (where colour != 'unknown') over area_cell as persons_known
    from rolled_up
    window area_cell as (partition by geo_level, geo_code, mapping_year, user_group, area)
)

select
    {{ cell_columns() }},
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
