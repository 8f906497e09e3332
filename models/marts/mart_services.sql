-- Services received in the last year and recommended for the next, per participating geography, mapping year,
-- user group and service asked in that year's layout (a service not asked has no row). Status per person
-- (rule 7): continue = received and recommended, new = recommended not received, end = received not
-- recommended, none. A person whose received or recommended set is unknown counts in no status and not in
-- received or recommended (only in persons_status_unknown); the *_in_known_set columns count every known set
-- instead. The next-mapping columns follow the persons of a cell to the next mapping of the same geography for
-- the same group and count who received the service then.
{% set cell = ['geo_level', 'geo_code', 'mapping_year', 'user_group'] %}  {#- a mart cell without the service -#}

with

participation as (
    select
        geo_level,
        geo_code,
        mapping_year,
        user_group,
        next_mapping_year
    from {{ ref('int_participation_geography') }}
),

persons as (
    select
        person_id,
        mapping_year,
        municipality_code,
        user_group
    from {{ ref('fct_person_year') }}
),

person_services as (
    select
        person_id,
        mapping_year,
        municipality_code,
        user_group,
        service_code,
        received,
        recommended,
        status
    from {{ ref('fct_person_year_service') }}
),

services as (
    select
        service_code,
        sort_order as service_order,
        level as service_level
    from {{ ref('dim_service') }}
),

group_rollup as (
    select
        finest_group,
        user_group
    from {{ ref('int_user_group_rollup') }}
),

services_asked as (
    -- a service is asked in a year when that year's layout has it: every person-year then has a row for it
    select distinct
        mapping_year,
        service_code
    from person_services
),

geography_rollup as (
    select
        municipality_code,
        geo_level,
        geo_code
    from {{ ref('int_geography_rollup') }}
),

person_geographies as (
    -- each person-year at its three geographies
    select
        persons.person_id,
        persons.mapping_year,
        persons.user_group as finest_group,
        geography_rollup.geo_level,
        geography_rollup.geo_code
    from persons
    inner join geography_rollup
        on persons.municipality_code = geography_rollup.municipality_code
),

followed_up as (
    -- persons of a cell who were mapped again at the next mapping of the same geography for the same group
    select
        this_mapping.person_id,
        this_mapping.mapping_year,
        this_mapping.geo_level,
        this_mapping.geo_code,
        group_rollup.user_group,
        participation.next_mapping_year
    from person_geographies as this_mapping
    inner join group_rollup
        on this_mapping.finest_group = group_rollup.finest_group
    inner join participation
        on
            this_mapping.geo_level = participation.geo_level
            and this_mapping.geo_code = participation.geo_code
            and this_mapping.mapping_year = participation.mapping_year
            and group_rollup.user_group = participation.user_group
    inner join person_geographies as next_mapping
        on
            this_mapping.person_id = next_mapping.person_id
            and this_mapping.geo_level = next_mapping.geo_level
            and this_mapping.geo_code = next_mapping.geo_code
            and participation.next_mapping_year = next_mapping.mapping_year
),

followed_up_counts as (
    select
        geo_level,
        geo_code,
        mapping_year,
        user_group,
        count(*) as mapped_again_at_next_mapping
    from followed_up
    group by all
),

received_next as (
    select
        followed_up.geo_level,
        followed_up.geo_code,
        followed_up.mapping_year,
        followed_up.user_group,
        next_services.service_code,
        count(*) as received_at_next_mapping,
        count(*) filter (where this_services.recommended) as recommended_received_at_next_mapping
    from followed_up
    inner join person_services as next_services
        on
            followed_up.person_id = next_services.person_id
            and followed_up.next_mapping_year = next_services.mapping_year
    left join person_services as this_services
        on
            followed_up.person_id = this_services.person_id
            and followed_up.mapping_year = this_services.mapping_year
            and next_services.service_code = this_services.service_code
    where next_services.received
    group by all
),

recommended_followed_up as (
    select
        followed_up.geo_level,
        followed_up.geo_code,
        followed_up.mapping_year,
        followed_up.user_group,
        this_services.service_code,
        count(*) as recommended_mapped_again_at_next_mapping
    from followed_up
    inner join person_services as this_services
        on
            followed_up.person_id = this_services.person_id
            and followed_up.mapping_year = this_services.mapping_year
    where this_services.recommended
    group by all
),

rolled_up as (
    {% call rollup_to_participating(
        'person_services', keys=['service_code'], key_values='services_asked', key_values_by=['mapping_year']
    ) %}
        count(*) filter (where status != 'unknown') as persons_status_known,
        count(*) filter (where status = 'unknown') as persons_status_unknown,
        count(*) filter (where status in ('continue', 'end')) as received,
        count(*) filter (where status in ('continue', 'new')) as recommended,
        count(*) filter (where status = 'continue') as status_continue,
        count(*) filter (where status = 'new') as status_new,
        count(*) filter (where status = 'end') as status_end,
        count(*) filter (where status = 'none') as status_none,
        -- received and recommended from here on are the person's columns (a column wins over an alias)
        count(received) as received_set_known,
        count(*) filter (where received) as received_in_known_set,
        count(recommended) as recommended_set_known,
        count(*) filter (where recommended) as recommended_in_known_set
    {% endcall %}
),

cells as (
    select
        rolled_up.*,
        services.service_order,
        services.service_level,
        asked_next.service_code is not null as is_asked_at_next_mapping
    from rolled_up
    left join services
        on rolled_up.service_code = services.service_code
    left join services_asked as asked_next
        on
            rolled_up.next_mapping_year = asked_next.mapping_year
            and rolled_up.service_code = asked_next.service_code
),

combined as (
    select
        cells.*,
        case
            when cells.next_mapping_year is not null then coalesce(followed_up_counts.mapped_again_at_next_mapping, 0)
        end as mapped_again_at_next_mapping,
        case
            when cells.is_asked_at_next_mapping
                then coalesce(recommended_followed_up.recommended_mapped_again_at_next_mapping, 0)
        end as recommended_mapped_again_at_next_mapping,
        case
            when cells.is_asked_at_next_mapping then coalesce(received_next.received_at_next_mapping, 0)
        end as received_at_next_mapping,
        case
            when cells.is_asked_at_next_mapping then coalesce(received_next.recommended_received_at_next_mapping, 0)
        end as recommended_received_at_next_mapping
    from cells
    left join followed_up_counts
        on {{ same_keys('cells', 'followed_up_counts', cell) }}
    left join recommended_followed_up
        on {{ same_keys('cells', 'recommended_followed_up', cell + ['service_code']) }}
    left join received_next
        on {{ same_keys('cells', 'received_next', cell + ['service_code']) }}
)

select
    {{ cell_columns() }},
    service_code,
    service_order,
    service_level,
    persons_status_known,
    persons_status_unknown,
    received,
    recommended,
    status_continue,
    status_new,
    status_end,
    status_none,
    recommended - received as gap,
    received_set_known,
    received_in_known_set,
    recommended_set_known,
    recommended_in_known_set,
    received_in_known_set / nullif(received_set_known, 0) as share_received,
    recommended_in_known_set / nullif(recommended_set_known, 0) as share_recommended,
    next_mapping_year,
    is_asked_at_next_mapping,
    mapped_again_at_next_mapping,
    received_at_next_mapping,
    recommended_mapped_again_at_next_mapping,
    recommended_received_at_next_mapping
from combined
