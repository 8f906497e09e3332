with seed as (
    select * from {{ ref('municipality_map_2024') }}
),

renamed as (
    select
        municipality_code,
        code_2024 as target_municipality_code,
        weight,
        approximate as is_approximate,
        path as change_path
    from seed
)

select * from renamed
