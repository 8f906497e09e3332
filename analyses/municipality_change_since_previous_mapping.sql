-- Question: how did a municipality's figures change since its previous mapping? For every user group, the
-- latest mapping of the municipality (dbt var analysis_municipality, default 5001 Trondheim) against its previous
-- mapping for the same group, which is not necessarily the year before: persons, rate per 1 000, share in red or
-- yellow housing, and share red or blue (blålys) on the living-condition index.
{% set municipality = var('analysis_municipality', '5001') %}
{% set cell = ['geo_level', 'geo_code', 'mapping_year', 'user_group'] %}  {#- a mart cell -#}

with

figures as (
    -- the municipality's figures per user group and mapping year, from three marts with the same cells
    select
        trends.user_group,
        trends.previous_mapping_year,
        trends.mapping_year,
        trends.previous_persons,
        trends.persons,
        trends.change_persons,
        trends.previous_rate_per_1000_16plus,
        trends.rate_per_1000_16plus,
        trends.change_rate_per_1000_16plus,
        housing.share_red_yellow,
        sum(living.share) filter (where living.colour in ('red', 'blue')) as share_red_blue
    from {{ ref('mart_trends') }} as trends
    left join {{ ref('mart_housing') }} as housing
        on {{ same_keys('trends', 'housing', cell) }}
    left join {{ ref('mart_living_conditions') }} as living
        on {{ same_keys('trends', 'living', cell) }} and living.area = 'living_index'
    where trends.geo_level = 'municipality' and trends.geo_code = '{{ municipality }}'
    group by all
),

with_previous as (
    -- a mart has a row for each year a group participated, so the group's row before is its previous mapping
    select
        *,
        lag(share_red_yellow) over group_years as previous_share_red_yellow,
        lag(share_red_blue) over group_years as previous_share_red_blue,
        max(mapping_year) over (partition by user_group) as latest_year
    from figures
    window group_years as (partition by user_group order by mapping_year)
)

select
    user_group,
    previous_mapping_year,
    mapping_year,
    previous_persons,
    persons,
    change_persons,
    round(previous_rate_per_1000_16plus, 2) as previous_rate_per_1000_16plus,
    round(rate_per_1000_16plus, 2) as rate_per_1000_16plus,
    round(change_rate_per_1000_16plus, 2) as change_rate_per_1000_16plus,
    round(previous_share_red_yellow, 3) as previous_share_housing_red_yellow,
    round(share_red_yellow, 3) as share_housing_red_yellow,
    round(previous_share_red_blue, 3) as previous_share_index_red_blue,
    round(share_red_blue, 3) as share_index_red_blue
from with_previous
where mapping_year = latest_year
order by user_group
