-- Municipalities (kommuner) as registered, one row per code and validity period, with the municipality and
-- county they map to in the target structure (rule 5).
with municipalities as (
    select * from {{ ref('stg_reference__municipalities') }}
),

target_map as (
    {{ target_municipality_map() }}
),

final as (
    select
        municipalities.municipality_code as municipality_code_registered,
        municipalities.valid_from,
        municipalities.valid_to,
        municipalities.municipality_name as name,
        municipalities.county_code as county_code_registered,
        target_map.municipality_code,
        target_map.municipality_name,
        target_map.county_code,
        target_map.county_name,
        target_map.is_approximate
    from municipalities
    left join target_map
        on municipalities.municipality_code = target_map.municipality_code_registered
)

select * from final
