-- Every population row's municipality code was in force on 1 January of its year.
with population as (
    select * from {{ ref('population') }}
),

municipalities as (
    select * from {{ ref('municipalities') }}
)

select
    population.year,
    population.municipality_code
from population
where not exists (
    select 1
    from municipalities
    where
        municipalities.municipality_code = population.municipality_code
        and municipalities.valid_from <= make_date(population.year, 1, 1)
        and (municipalities.valid_to is null or municipalities.valid_to > make_date(population.year, 1, 1))
)
