-- Trends: persons mapped per participating geography, mapping year and user group, with rates per 1 000
-- inhabitants of the participating municipalities only, and the change since the previous mapping.

with

rolled_up as (
    {% call rollup_to_participating(ref('fct_person_year')) %}
        count(*) as persons,
        count(*) filter (where is_adult) as persons_18plus,
        count(*) filter (where sex = 'M') as men,
        count(age) as persons_age_known,
        sum(age) as age_sum,
        count(*) filter (where is_approximate) as persons_approximate
    {% endcall %}
),

rates as (
    select
        *,
        age_sum / nullif(persons_age_known, 0) as mean_age,
        men / nullif(persons, 0) as share_men,
        1000.0 * persons / nullif(population_16plus, 0) as rate_per_1000_16plus,
        1000.0 * persons_18plus / nullif(population_18plus, 0) as rate_per_1000_18plus
    from rolled_up
)

select
    {{ cell_columns('current_year') }},
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
