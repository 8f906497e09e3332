-- The colours of every area (and of the living-condition index) add up to the persons of the group in
-- mart_trends, and housing in mart_housing agrees with the housing area of mart_living_conditions.
{% set cell = ['geo_level', 'geo_code', 'mapping_year', 'user_group'] %}  {#- a mart cell -#}

with

trends as (
    select
        geo_level,
        geo_code,
        mapping_year,
        user_group,
        persons
    from {{ ref('mart_trends') }}
),

colours as (
    select
        geo_level,
        geo_code,
        mapping_year,
        user_group,
        area,
        sum(persons) as persons,
        sum(persons) filter (where colour = 'red') as red,
        sum(persons) filter (where colour = 'yellow') as yellow
    from {{ ref('mart_living_conditions') }}
    group by all
),

housing as (
    select
        geo_level,
        geo_code,
        mapping_year,
        user_group,
        persons,
        housing_red,
        housing_yellow
    from {{ ref('mart_housing') }}
),

colours_vs_trends as (
    select
        trends.geo_level,
        trends.geo_code,
        trends.mapping_year,
        trends.user_group,
        colours.area,
        'colours do not add up to persons' as problem
    from trends
    left join colours
        on {{ same_keys('trends', 'colours', cell) }}
    where colours.persons is distinct from trends.persons
),

housing_vs_colours as (
    select
        housing.geo_level,
        housing.geo_code,
        housing.mapping_year,
        housing.user_group,
        colours.area,
        'mart_housing disagrees with the housing area' as problem
    from housing
    left join colours
        on {{ same_keys('housing', 'colours', cell) }} and colours.area = 'housing'
    where
        colours.persons is distinct from housing.persons
        or colours.red is distinct from housing.housing_red
        or colours.yellow is distinct from housing.housing_yellow
)

select * from colours_vs_trends
union all
select * from housing_vs_colours
