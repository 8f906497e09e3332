-- Question: in each county's latest mapping, which services have the largest gap between what was recommended
-- for the coming year and what was received in the last year? A positive gap means more persons should have the
-- service than have it now. Top three services per county, all users.

with

county_services as (
    select
        geo_code as county_code,
        geo_name as county,
        mapping_year,
        service_code,
        received,
        recommended,
        gap,
        max(mapping_year) over (partition by geo_code) as latest_year
    from {{ ref('mart_services') }}
    where
        geo_level = 'county'
        and user_group = 'all'
),

ranked as (
    select
        *,
        row_number() over (partition by county_code order by gap desc, service_code asc) as gap_rank
    from county_services
    where mapping_year = latest_year
)

select
    county_code,
    county,
    mapping_year,
    gap_rank,
    service_code,
    received,
    recommended,
    gap
from ranked
where gap_rank <= 3
order by county_code, gap_rank
