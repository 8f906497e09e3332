with seed as (
    select * from {{ ref('code_values') }}
),

renamed as (
    select
        code_list,
        layout,
        raw_value,
        canonical_value
    from seed
)

select * from renamed
