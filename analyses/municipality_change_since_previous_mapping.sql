-- Question: how did a municipality's figures change since its previous mapping? For every user group, the
-- latest mapping of the municipality (dbt var analysis_municipality, default 5001 Trondheim) against its previous
-- mapping for the same group, which is not necessarily the year before: persons, rate per 1 000, share in red or
-- yellow housing, and share red or blue (blålys) on the living-condition index.
{% set municipality = var('analysis_municipality', '5001') %}

with

trends as (
    select
        mapping_year,
        user_group,
        previous_mapping_year,
        persons,
        previous_persons,
        change_persons,
        rate_per_1000_16plus,
        previous_rate_per_1000_16plus,
        change_rate_per_1000_16plus,
        max(mapping_year) over (partition by user_group) as latest_year
    from {{ ref('mart_trends') }}
    where geo_level = 'municipality' and geo_code = '{{ municipality }}'
),

housing as (
    select
        mapping_year,
        user_group,
        share_red_yellow
    from {{ ref('mart_housing') }}
    where geo_level = 'municipality' and geo_code = '{{ municipality }}'
),

living_index as (
    select
        mapping_year,
        user_group,
        sum(share) filter (where colour in ('red', 'blue')) as share_red_blue
    from {{ ref('mart_living_conditions') }}
    where geo_level = 'municipality' and geo_code = '{{ municipality }}' and area = 'living_index'
    group by mapping_year, user_group
)

select
    trends.user_group,
    trends.previous_mapping_year,
    trends.mapping_year,
    trends.previous_persons,
    trends.persons,
    trends.change_persons,
    round(trends.previous_rate_per_1000_16plus, 2) as previous_rate_per_1000_16plus,
    round(trends.rate_per_1000_16plus, 2) as rate_per_1000_16plus,
    round(trends.change_rate_per_1000_16plus, 2) as change_rate_per_1000_16plus,
    round(previous_housing.share_red_yellow, 3) as previous_share_housing_red_yellow,
    round(housing.share_red_yellow, 3) as share_housing_red_yellow,
    round(previous_index.share_red_blue, 3) as previous_share_index_red_blue,
    round(living_index.share_red_blue, 3) as share_index_red_blue
from trends
left join housing
    on trends.mapping_year = housing.mapping_year and trends.user_group = housing.user_group
left join housing as previous_housing
    on trends.previous_mapping_year = previous_housing.mapping_year and trends.user_group = previous_housing.user_group
left join living_index
    on trends.mapping_year = living_index.mapping_year and trends.user_group = living_index.user_group
left join living_index as previous_index
    on trends.previous_mapping_year = previous_index.mapping_year and trends.user_group = previous_index.user_group
where trends.mapping_year = trends.latest_year
order by trends.user_group
