with seed as (
    select * from {{ ref('agencies') }}
),

renamed as (
    select
        agency_code,
        priority as dedup_priority,
        v2_label,
        label_nb,
        label_en
    from seed
)

select * from renamed
