{{ config(**per_group_config('fct_return_person_year')) }}  -- by municipality and person (decisions W11)
-- Return packages, "Brukere over tid": per person a municipality registered in two or more mapping years, each
-- service asked in that year's layout, whether it was received and recommended, and for a recommended service
-- whether the person received it at the next mapping by the same municipality (null when there was none yet or
-- the set is unknown then).
with person_years as (
    select * from {{ ref('fct_return_person_year') }} as person_years  -- noqa: AL05
    where mappings_by_municipality >= 2 and {{ in_rebuilt_groups('person_years') }}
),

services as (
    select * from {{ ref('dim_service') }}
),

followed as (
    -- each person-year with the sets of the same person's next mapping by the same municipality (one row a person,
    -- not a service: the services are crossed in below)
    select
        person_years.municipality_code,
        person_years.person_id,
        person_years.mapping_year,
        person_years.person_next_mapping_year,
        person_years.layout,
        person_years.services_received,
        person_years.services_recommended,
        next_year.layout as next_layout,
        next_year.services_received as next_services_received
    from person_years
    left join person_years as next_year
        on
            person_years.municipality_code = next_year.municipality_code
            and person_years.person_id = next_year.person_id
            and person_years.person_next_mapping_year = next_year.mapping_year
),

final as (
    select
        followed.municipality_code,
        followed.person_id,
        followed.mapping_year,
        services.service_code,
        followed.person_next_mapping_year,
        list_contains(followed.services_received, services.service_code) as is_received,
        list_contains(followed.services_recommended, services.service_code) as is_recommended,
        case
            when
                list_contains(followed.services_recommended, services.service_code)
                and ({{ asked_in_layout('followed.next_layout', 'services') }})
                then list_contains(followed.next_services_received, services.service_code)
        end as is_received_at_next_mapping
    from followed
    inner join services
        on {{ asked_in_layout('followed.layout', 'services') }}
)

-- not sorted (decisions W12): built from fct_return_person_year, which is stored by municipality, the rows come out
-- nearly in its order, so `brukerplan return` reading one municipality still skips most of the table
select * from final
