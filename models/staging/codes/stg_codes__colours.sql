with seed as (
    select * from {{ ref('colours') }}
),

renamed as (
    select
        colour,
        sort_order,
        applies_to,
        label_nb,
        label_en
    from seed
)

select * from renamed
