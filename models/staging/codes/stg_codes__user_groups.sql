with seed as (
    select * from {{ ref('user_groups') }}
),

renamed as (
    select
        user_group,
        sort_order,
        parent_group,
        is_finest,
        label_nb,
        label_en
    from seed
)

select * from renamed
