with seed as (
    select * from {{ ref('services') }}
),

renamed as (
    select
        service_code,
        sort_order,
        level as service_level,
        v1_column,
        v2_label,
        v3_code,
        label_nb,
        label_en
    from seed
)

select * from renamed
