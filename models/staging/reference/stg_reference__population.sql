with seed as (
    select * from {{ ref('population') }}
),

renamed as (
    select
        year as population_year,
        municipality_code,
        population_16plus,
        population_18plus,
        population_total
    from seed
)

select * from renamed
