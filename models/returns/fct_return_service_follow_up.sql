-- Return packages, "Brukere over tid": per person a municipality registered in two or more mapping years, each
-- service asked in that year's layout, whether it was received and recommended, and for a recommended service
-- whether the person received it at the next mapping by the same municipality (null when there was none yet or
-- the set is unknown then).
with person_years as (
    select * from {{ ref('fct_return_person_year') }}
    where mappings_by_municipality >= 2
),

services as (
    select * from {{ ref('dim_service') }}
),

asked as (
    select
        person_years.municipality_code,
        person_years.person_id,
        person_years.mapping_year,
        services.service_code,
        person_years.person_next_mapping_year,
        list_contains(person_years.services_received, services.service_code) as is_received,
        list_contains(person_years.services_recommended, services.service_code) as is_recommended
    from person_years
    inner join services
        on {{ asked_in_layout('person_years.layout', 'services') }}
),

final as (
    select
        asked.*,
        case when asked.is_recommended then next_year.is_received end as is_received_at_next_mapping
    from asked
    left join asked as next_year
        on
            asked.municipality_code = next_year.municipality_code
            and asked.person_id = next_year.person_id
            and asked.person_next_mapping_year = next_year.mapping_year
            and asked.service_code = next_year.service_code
)

-- stored by municipality: `brukerplan return` reads one municipality at a time and DuckDB skips the rest
select * from final
order by municipality_code, mapping_year
