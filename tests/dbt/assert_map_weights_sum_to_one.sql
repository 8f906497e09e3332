-- The weights of one source code in the 2024 map sum to 1.
with map as (
    select * from {{ ref('municipality_map_2024') }}
)

select
    municipality_code,
    sum(weight) as total_weight
from map
group by municipality_code
having abs(sum(weight) - 1) > 0.001
