with seed as (
    select * from {{ ref('municipality_name_changes') }}
),

renamed as (
    select
        change_date,
        municipality_code,
        old_name,
        new_name
    from seed
)

select * from renamed
