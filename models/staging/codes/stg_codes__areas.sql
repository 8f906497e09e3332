with seed as (
    select * from {{ ref('areas') }}
),

renamed as (
    select
        area_code,
        sort_order,
        v12_header,
        v3_suffix,
        label_nb,
        label_en
    from seed
)

select * from renamed
