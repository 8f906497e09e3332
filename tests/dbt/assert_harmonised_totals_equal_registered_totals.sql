-- Rule 5 never fractions or loses persons: per mapping year and user group, the sum over harmonised municipalities
-- equals the sum over registered municipalities, and every person has a harmonised municipality and county. The
-- same holds for the population (rule 6).
with persons as (
    select * from {{ ref('fct_person_year') }}
),

population as (
    select * from {{ ref('int_population') }}
),

person_totals as (
    -- every person counts in one registered municipality; harmonised, only with a municipality and a county
    select
        'persons' as measure,
        mapping_year as year,
        count(*) as registered_total,
        count(*) filter (where municipality_code is not null and county_code is not null) as harmonised_total
    from persons
    group by mapping_year, user_group
),

population_totals as (
    select
        'population_16plus' as measure,
        year,
        sum(population_16plus) as registered_total,
        coalesce(sum(population_16plus) filter (where municipality_code is not null), 0) as harmonised_total
    from population
    group by year
)

select * from person_totals
where registered_total != harmonised_total
union all
select * from population_totals
where registered_total != harmonised_total
