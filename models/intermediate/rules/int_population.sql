-- Rule 6 (population): population 16+ and 18+ per year and municipality as registered, with the same target
-- municipality and county as rule 5, so numerators and denominators always agree.
with population as (
    select * from {{ ref('stg_reference__population') }}
),

target_map as (
    {{ target_municipality_map() }}
),

harmonised as (
    select
        population.population_year as year,
        population.municipality_code as municipality_code_registered,
        target_map.municipality_code,
        target_map.county_code,
        coalesce(target_map.is_approximate, false) as is_approximate,
        population.population_16plus,
        population.population_18plus
    from population
    left join target_map
        on population.municipality_code = target_map.municipality_code_registered
)

select * from harmonised
