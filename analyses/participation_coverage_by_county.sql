-- Question: how much of each county maps, year by year? Registered municipalities in force and participating,
-- and the share of the population 16+ living in participating municipalities (counties on today's structure).

select
    geo_code as county_code,
    geo_name as county,
    mapping_year,
    municipalities_in_force,
    municipalities_participating,
    round(share_municipalities_participating, 3) as share_municipalities_participating,
    round(share_population_covered, 3) as share_population_covered,
    persons
from {{ ref('mart_participation') }}
where geo_level = 'county'
order by county_code, mapping_year
