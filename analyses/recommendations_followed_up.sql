-- Question: did the recommendations happen? Nationally and per service, of the persons for whom a service was
-- recommended and who were mapped again at the next national mapping, how many received the service then?
-- (Municipal figures use the municipality's own next mapping; see mart_services.) All users, every year with a
-- next mapping in which the service is asked.

select
    mapping_year,
    next_mapping_year,
    service_code,
    recommended,
    recommended_mapped_again_at_next_mapping,
    recommended_received_at_next_mapping,
    round(
        recommended_received_at_next_mapping / nullif(recommended_mapped_again_at_next_mapping, 0), 3
    ) as share_recommendation_happened
from {{ ref('mart_services') }}
where
    geo_level = 'country'
    and user_group = 'all'
    and is_asked_at_next_mapping
order by mapping_year, service_code
