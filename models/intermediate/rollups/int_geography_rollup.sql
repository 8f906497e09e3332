-- Rule 5 (geographic additivity): each harmonised municipality paired with every geography of the marts it
-- counts in: itself, its county (target structure) and the country, with the geography's name. Marts join their
-- municipality counts to this table and sum, so county figures are the sum of their municipalities and the country
-- the sum of its counties.

with

geographies as (
    select
        geo_level,
        geo_code,
        geo_name,
        county_code
    from {{ ref('int_geographies') }}
),

memberships as (
    select
        municipalities.geo_code as municipality_code,
        geographies.geo_level,
        geographies.geo_code,
        geographies.geo_name
    from geographies as municipalities
    inner join geographies
        on
            (geographies.geo_level = 'municipality' and municipalities.geo_code = geographies.geo_code)
            or (geographies.geo_level = 'county' and municipalities.county_code = geographies.geo_code)
            or geographies.geo_level = 'country'
    where municipalities.geo_level = 'municipality'
)

select
    municipality_code,
    geo_level,
    geo_code,
    geo_name
from memberships
