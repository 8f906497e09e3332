with seed as (
    select * from {{ ref('trondelag_participation') }}
),

renamed as (
    select
        mapping_year,
        municipality_code,
        name_in_source,
        note
    from seed
)

select * from renamed
