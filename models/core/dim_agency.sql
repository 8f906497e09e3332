-- Agencies (instanser) that map persons, with their de-duplication priority.
with agencies as (
    select * from {{ ref('stg_codes__agencies') }}
),

final as (
    select
        agency_code,
        dedup_priority,
        label_nb,
        label_en
    from agencies
)

select * from final
