-- Housing: persons in red (homeless) and yellow (not permanent or not satisfactory) housing, per participating
-- geography, mapping year and user group, with the persons with children under 18 among them and the number of
-- those children.

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
        area_housing,
        has_children,
        n_children
    from {{ ref('fct_person_year') }}
),

group_rollup as (
    select
        finest_group,
        user_group
    from {{ ref('int_user_group_rollup') }}
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
        count(*) as persons,
        count(*) filter (where area_housing in ('green', 'yellow', 'red')) as persons_housing_known,
        count(*) filter (where area_housing = 'green') as housing_green,
        count(*) filter (where area_housing = 'yellow') as housing_yellow,
        count(*) filter (where area_housing = 'red') as housing_red,
        count(*) filter (where area_housing in ('red', 'yellow') and has_children) as persons_with_children_red_yellow,
        coalesce(sum(n_children) filter (where area_housing in ('red', 'yellow') and has_children), 0)
            as children_red_yellow,
        count(*) filter (
            where area_housing in ('red', 'yellow') and has_children and n_children is null
        ) as persons_with_children_red_yellow_number_unknown
    from persons
    group by all
),

rolled_up as (
    select
        finest_counts.mapping_year,
        group_rollup.user_group,
        geography_rollup.geo_level,
        geography_rollup.geo_code,
        sum(finest_counts.persons) as persons,
        sum(finest_counts.persons_housing_known) as persons_housing_known,
        sum(finest_counts.housing_green) as housing_green,
        sum(finest_counts.housing_yellow) as housing_yellow,
        sum(finest_counts.housing_red) as housing_red,
        sum(finest_counts.persons_with_children_red_yellow) as persons_with_children_red_yellow,
        sum(finest_counts.children_red_yellow) as children_red_yellow,
        sum(finest_counts.persons_with_children_red_yellow_number_unknown)
            as persons_with_children_red_yellow_number_unknown
    from finest_counts
    inner join group_rollup
        on finest_counts.finest_group = group_rollup.finest_group
    inner join geography_rollup
        on finest_counts.municipality_code = geography_rollup.municipality_code
    group by
        finest_counts.mapping_year,
        group_rollup.user_group,
        geography_rollup.geo_level,
        geography_rollup.geo_code
),

counts as (
    select
        participation.geo_level,
        participation.geo_code,
        participation.geo_name,
        participation.mapping_year,
        participation.user_group,
        coalesce(rolled_up.persons, 0) as persons,
        coalesce(rolled_up.persons_housing_known, 0) as persons_housing_known,
        coalesce(rolled_up.housing_green, 0) as housing_green,
        coalesce(rolled_up.housing_yellow, 0) as housing_yellow,
        coalesce(rolled_up.housing_red, 0) as housing_red,
        coalesce(rolled_up.persons_with_children_red_yellow, 0) as persons_with_children_red_yellow,
        coalesce(rolled_up.children_red_yellow, 0) as children_red_yellow,
        coalesce(rolled_up.persons_with_children_red_yellow_number_unknown, 0)
            as persons_with_children_red_yellow_number_unknown
    from participation
    left join rolled_up
        on
            participation.geo_level = rolled_up.geo_level
            and participation.geo_code = rolled_up.geo_code
            and participation.mapping_year = rolled_up.mapping_year
            and participation.user_group = rolled_up.user_group
)

select
    geo_level,
    geo_code,
    geo_name,
    mapping_year,
    user_group,
    persons,
    persons_housing_known,
    housing_green,
    housing_yellow,
    housing_red,
    housing_red + housing_yellow as housing_red_yellow,
    housing_red / nullif(persons_housing_known, 0) as share_red,
    housing_yellow / nullif(persons_housing_known, 0) as share_yellow,
    (housing_red + housing_yellow) / nullif(persons_housing_known, 0) as share_red_yellow,
    persons_with_children_red_yellow,
    children_red_yellow,
    persons_with_children_red_yellow_number_unknown
from counts
