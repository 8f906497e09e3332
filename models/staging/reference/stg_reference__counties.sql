with seed as (
    select * from {{ ref('counties') }}
),

renamed as (
    select
        county_code,
        name as county_name,
        valid_from,
        valid_to
    from seed
)

select * from renamed
