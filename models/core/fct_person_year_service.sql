{{ config(**per_year_view_config()) }}  -- a view over fct_person_year (decisions W10, W13)
-- One row per person, mapping year and service asked in that registration's layout (a service not asked has no
-- row). Status per rule 7: continue = received and recommended, new = recommended not received, end = received
-- not recommended, none = neither; unknown when either set is unknown (null).
with persons as (
    select * from {{ ref('fct_person_year') }}
),

services as (
    select * from {{ ref('dim_service') }}
),

asked as (
    select
        persons.person_id,
        persons.mapping_year,
        services.service_code,
        persons.municipality_code,
        persons.municipality_code_registered,
        persons.user_group,
        persons.layout,
        list_contains(persons.services_received, services.service_code) as received,
        list_contains(persons.services_recommended, services.service_code) as recommended
    from persons
    inner join services
        on {{ asked_in_layout('persons.layout', 'services') }}
),

final as (
    select
        *,
        case
            when received is null or recommended is null then 'unknown'
            when received and recommended then 'continue'
            when recommended then 'new'
            when received then 'end'
            else 'none'
        end as status
    from asked
)

select * from final
