-- Services received and recommended, with their level and in which layouts they are asked.
with services as (
    select * from {{ ref('stg_codes__services') }}
),

final as (
    select
        service_code,
        sort_order,
        service_level as level,
        label_nb,
        label_en,
        coalesce(v1_column, '') != '' as asked_in_v1,
        coalesce(v2_label, '') != '' as asked_in_v2,
        coalesce(v3_code, '') != '' as asked_in_v3
    from services
)

select * from final
