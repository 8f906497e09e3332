with seed as (
    select * from {{ ref('substances') }}
),

renamed as (
    select
        substance_code,
        sort_order,
        v2_label,
        v3_suffix,
        label_en
    from seed
)

select * from renamed
