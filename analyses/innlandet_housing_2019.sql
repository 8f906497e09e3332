-- Question: how many persons lived in red (homeless) and yellow (unstable or unsatisfactory) housing, by user
-- group, in the municipalities of Innlandet in 2019? Innlandet (county 34) was formed in 2020 from Hedmark and
-- Oppland; on today's structure the 2019 figures of their municipalities are shown under today's municipalities.
-- A municipality code's first two digits are its county. Shares are fractions of persons with known housing.

select
    geo_code as municipality_code,
    geo_name as municipality,
    user_group,
    persons,
    housing_red,
    housing_yellow,
    housing_red_yellow,
    round(share_red_yellow, 3) as share_red_yellow,
    persons_with_children_red_yellow,
    children_red_yellow
from {{ ref('mart_housing') }}
where
    geo_level = 'municipality'
    and left(geo_code, 2) = '34'
    and mapping_year = 2019
    and user_group in ('rus', 'mental', 'all')
order by geo_code, user_group
