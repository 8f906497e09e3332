-- Rule 5 (geographic additivity): each harmonised municipality paired with every geography of the marts it
-- counts in: itself, its county (target structure) and the country. Marts join their municipality counts to this
-- table and sum, so county figures are the sum of their municipalities and the country the sum of its counties.

with

municipalities as (
    select
        geo_code as municipality_code,
        county_code
    from {{ ref('int_geographies') }}
    where geo_level = 'municipality'
),

memberships as (
    select
        municipality_code,
        'municipality' as geo_level,
        municipality_code as geo_code
    from municipalities

    union all

    select
        municipality_code,
        'county' as geo_level,
        county_code as geo_code
    from municipalities

    union all

    select
        municipality_code,
        'country' as geo_level,
        'NO' as geo_code
    from municipalities
)

select
    municipality_code,
    geo_level,
    geo_code
from memberships
