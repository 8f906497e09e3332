-- The eight living-condition areas (levekårsområder) plus the living-condition index (levekårsindeks).
with areas as (
    select * from {{ ref('stg_codes__areas') }}
),

final as (
    select
        area_code,
        sort_order,
        label_nb,
        label_en,
        false as is_index
    from areas
    union all
    select
        'living_index' as area_code,
        (select max(sort_order) + 1 from areas) as sort_order,
        'Levekårsindeks' as label_nb,
        'Living-condition index' as label_en,
        true as is_index
)

select * from final
