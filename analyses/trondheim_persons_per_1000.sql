-- Question: how many persons were mapped per 1 000 inhabitants (16+) in Trondheim in every year, on today's
-- borders? Trondheim (5001 since 2020) absorbed Klæbu in 2020; on today's borders a year counts Klæbu's persons
-- and inhabitants only when Klæbu itself mapped that year (participating municipalities only). Years in which
-- Trondheim did not map have no row: a gap, not a zero.
-- Answer columns: year, persons, population covered, participating municipalities, rate per 1 000, change since
-- the previous mapping.

select
    mapping_year,
    persons,
    population_16plus,
    participating_municipalities,
    round(rate_per_1000_16plus, 2) as rate_per_1000_16plus,
    previous_mapping_year,
    change_persons,
    round(change_rate_per_1000_16plus, 2) as change_rate_per_1000_16plus
from {{ ref('mart_trends') }}
where
    geo_level = 'municipality'
    and geo_code = '5001'
    and user_group = 'all'
order by mapping_year
