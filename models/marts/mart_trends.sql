-- Trends: persons mapped per participating geography, mapping year and user group, with rates per 1 000
-- inhabitants of the participating municipalities only, and the change since the previous mapping.

with

participation as (
    select
        geo_level,
        geo_code,
        geo_name,
        mapping_year,
        user_group,
        participating_municipalities,
        participating_municipalities_harmonised,
        population_16plus,
        population_18plus,
        previous_mapping_year
    from {{ ref('int_participation_geography') }}
),

persons as (
    select
        mapping_year,
        municipality_code,
        user_group as finest_group,
        sex,
        age,
        is_adult,
        is_approximate
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
        count(*) filter (where is_adult) as persons_18plus,
        count(*) filter (where sex = 'M') as men,
        count(age) as persons_age_known,
        sum(age) as age_sum,
        count(*) filter (where is_approximate) as persons_approximate
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
        sum(finest_counts.persons_18plus) as persons_18plus,
        sum(finest_counts.men) as men,
        sum(finest_counts.persons_age_known) as persons_age_known,
        sum(finest_counts.age_sum) as age_sum,
        sum(finest_counts.persons_approximate) as persons_approximate
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

figures as (
    select
        participation.geo_level,
        participation.geo_code,
        participation.geo_name,
        participation.mapping_year,
        participation.user_group,
        participation.participating_municipalities,
        participation.participating_municipalities_harmonised,
        participation.population_16plus,
        participation.population_18plus,
        participation.previous_mapping_year,
        coalesce(rolled_up.persons, 0) as persons,
        coalesce(rolled_up.persons_18plus, 0) as persons_18plus,
        coalesce(rolled_up.men, 0) as men,
        coalesce(rolled_up.persons_approximate, 0) as persons_approximate,
        rolled_up.age_sum / nullif(rolled_up.persons_age_known, 0) as mean_age
    from participation
    left join rolled_up
        on
            participation.geo_level = rolled_up.geo_level
            and participation.geo_code = rolled_up.geo_code
            and participation.mapping_year = rolled_up.mapping_year
            and participation.user_group = rolled_up.user_group
),

rates as (
    select
        *,
        men / nullif(persons, 0) as share_men,
        1000.0 * persons / nullif(population_16plus, 0) as rate_per_1000_16plus,
        1000.0 * persons_18plus / nullif(population_18plus, 0) as rate_per_1000_18plus
    from figures
)

select
    current_year.geo_level,
    current_year.geo_code,
    current_year.geo_name,
    current_year.mapping_year,
    current_year.user_group,
    current_year.persons,
    current_year.persons_18plus,
    current_year.men,
    current_year.share_men,
    current_year.mean_age,
    current_year.population_16plus,
    current_year.population_18plus,
    current_year.participating_municipalities,
    current_year.participating_municipalities_harmonised,
    current_year.rate_per_1000_16plus,
    current_year.rate_per_1000_18plus,
    current_year.previous_mapping_year,
    previous_year.persons as previous_persons,
    previous_year.rate_per_1000_16plus as previous_rate_per_1000_16plus,
    previous_year.rate_per_1000_18plus as previous_rate_per_1000_18plus,
    current_year.persons - previous_year.persons as change_persons,
    current_year.rate_per_1000_16plus - previous_year.rate_per_1000_16plus as change_rate_per_1000_16plus,
    current_year.rate_per_1000_18plus - previous_year.rate_per_1000_18plus as change_rate_per_1000_18plus,
    current_year.persons_approximate
from rates as current_year
left join rates as previous_year
    on
        current_year.geo_level = previous_year.geo_level
        and current_year.geo_code = previous_year.geo_code
        and current_year.user_group = previous_year.user_group
        and current_year.previous_mapping_year = previous_year.mapping_year
