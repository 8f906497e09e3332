-- Rule 5 never fractions or loses persons: per mapping year and user group, the sum over harmonised municipalities
-- equals the sum over registered municipalities, and every person has a harmonised municipality and county. The
-- same holds for the population (rule 6).
with persons as (
    select * from {{ ref('fct_person_year') }}
),

population as (
    select * from {{ ref('int_population') }}
),

per_registered_municipality as (
    select
        mapping_year,
        user_group,
        municipality_code_registered,
        count(*) as persons
    from persons
    group by all
),

per_harmonised_municipality as (
    select
        mapping_year,
        user_group,
        municipality_code,
        count(*) as persons
    from persons
    where municipality_code is not null and county_code is not null
    group by all
),

registered as (
    select
        mapping_year,
        user_group,
        sum(persons) as persons
    from per_registered_municipality
    group by all
),

harmonised as (
    select
        mapping_year,
        user_group,
        sum(persons) as persons
    from per_harmonised_municipality
    group by all
),

population_per_harmonised_municipality as (
    select
        year,
        municipality_code,
        sum(population_16plus) as population_16plus
    from population
    where municipality_code is not null
    group by all
),

population_registered as (
    select
        year,
        sum(population_16plus) as population_16plus
    from population
    group by year
),

population_harmonised as (
    select
        year,
        sum(population_16plus) as population_16plus
    from population_per_harmonised_municipality
    group by year
),

person_differences as (
    select
        'persons' as measure,
        coalesce(registered.mapping_year, harmonised.mapping_year) as year,
        coalesce(registered.persons, 0) as registered_total,
        coalesce(harmonised.persons, 0) as harmonised_total
    from registered
    full outer join harmonised
        on registered.mapping_year = harmonised.mapping_year and registered.user_group = harmonised.user_group
),

population_differences as (
    select
        'population_16plus' as measure,
        population_registered.year,
        population_registered.population_16plus as registered_total,
        coalesce(population_harmonised.population_16plus, 0) as harmonised_total
    from population_registered
    left join population_harmonised on population_registered.year = population_harmonised.year
)

select * from person_differences
where registered_total != harmonised_total
union all
select * from population_differences
where registered_total != harmonised_total
