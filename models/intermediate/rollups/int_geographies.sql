-- The geographies of the marts in the target structure (rule 5): harmonised municipalities, counties and the
-- country, with their names. geo_code is the 4-digit municipality code, the 2-digit county code or 'NO'.

with

registered as (
    select municipality_code from {{ ref('stg_reference__municipalities') }}
),

target_map as (
    {{ target_municipality_map() }}
),

municipalities as (
    select
        municipality_code,
        county_code,
        min(municipality_name) as municipality_name,
        min(county_name) as county_name
    from target_map
    where
        municipality_code is not null
        and municipality_code_registered in (select registered.municipality_code from registered)
    group by municipality_code, county_code
),

geographies as (
    select
        'municipality' as geo_level,
        municipality_code as geo_code,
        municipality_name as geo_name,
        county_code
    from municipalities

    union all

    select distinct
        'county' as geo_level,
        county_code as geo_code,
        county_name as geo_name,
        county_code
    from municipalities

    union all

    select
        'country' as geo_level,
        'NO' as geo_code,
        'Norge' as geo_name,
        null as county_code
)

select
    geo_level,
    geo_code,
    geo_name,
    county_code
from geographies
