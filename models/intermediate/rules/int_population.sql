-- Rule 6 (population): population 16+ and 18+ per year and municipality as registered, with the same target
-- municipality and county as rule 5, so numerators and denominators always agree.
with population as (
    select
        population_year as year,
        municipality_code as municipality_code_registered,
        population_16plus,
        population_18plus
    from {{ ref('stg_reference__population') }}
),

harmonised as (
    {{ harmonised('population') }}
)

select
    year,
    municipality_code_registered,
    municipality_code,
    county_code,
    is_approximate,
    population_16plus,
    population_18plus
from harmonised
