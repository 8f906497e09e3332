with seed as (
    select * from {{ ref('municipalities') }}
),

renamed as (
    select
        municipality_code,
        name as municipality_name,
        county_code,
        valid_from,
        valid_to
    from seed
)

select * from renamed
