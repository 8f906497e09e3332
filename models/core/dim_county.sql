-- Counties (fylker) of the target structure (dbt var target_structure).
with counties as (
    select * from {{ ref('stg_reference__counties') }}
),

final as (
    select
        county_code,
        county_name,
        valid_from,
        valid_to
    from counties
    where
        valid_from <= make_date({{ target_structure_year() }}, 1, 1)
        and (valid_to is null or valid_to > make_date({{ target_structure_year() }}, 1, 1))
)

select * from final
