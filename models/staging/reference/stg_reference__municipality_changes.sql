with seed as (
    select * from {{ ref('municipality_changes') }}
),

renamed as (
    select
        change_date,
        old_code,
        new_code,
        change_type,
        approximate as is_approximate,
        note
    from seed
)

select * from renamed
