-- The colours of the living-condition areas and of the living-condition index (blue, blålys, is the index's only).
with colours as (
    select * from {{ ref('stg_codes__colours') }}
),

final as (
    select
        colour,
        sort_order,
        label_nb,
        label_en,
        applies_to = 'index_only' as is_index_only
    from colours
)

select * from final
