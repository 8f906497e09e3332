-- Services received in the last year and recommended for the next, per participating geography, mapping year,
-- user group and service asked in that year's layout (a service not asked has no row). Status per person
-- (rule 7): continue = received and recommended, new = recommended not received, end = received not
-- recommended, none. A person whose received or recommended set is unknown counts in no status and not in
-- received or recommended (only in persons_status_unknown); the *_in_known_set columns count every known set
-- instead. The next-mapping columns follow the persons of a cell to the next mapping of the same geography for
-- the same group and count who received the service then.
{{ config(**per_group_config(
    'int_participation_geography', keys=['mapping_year'], touched=['mapping_year', 'next_mapping_year']
)) }}  -- by mapping year: the years built and those whose next mapping is one of them (decisions W11)
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
    where {{ in_build_years() }}
),

persons as (
    select
        person_id,
        mapping_year,
        municipality_code,
        user_group as finest_group,
        layout,
        services_received,
        services_recommended
    from {{ ref('fct_person_year') }}
),

built_persons as (
    -- the persons of the mapping years this build computes (every year but in an incremental build); `persons`
    -- (every year) are also followed to their next mapping
    select * from persons
    where {{ in_build_years() }}
),

services as (
    select
        service_code,
        sort_order as service_order,
        level as service_level,
        asked_in_v1,
        asked_in_v2,
        asked_in_v3
    from {{ ref('dim_service') }}
),

group_rollup as (
    select
        finest_group,
        user_group
    from {{ ref('int_user_group_rollup') }}
),

geography_rollup as (
    select
        municipality_code,
        geo_level,
        geo_code
    from {{ ref('int_geography_rollup') }}
),

layouts as (
    select distinct
        mapping_year,
        layout
    from persons
),

services_asked as (
    -- a service is asked in a year when that year's layout has it: every person-year then has a row for it
    select distinct
        layouts.mapping_year,
        services.service_code
    from layouts
    inner join services
        on {{ asked_in_layout('layouts.layout', 'services') }}
),

person_layouts as (
    -- persons per year, municipality, group and layout, by which of their two sets of services are known
    select
        mapping_year,
        municipality_code,
        finest_group as user_group,
        layout,
        count(*) filter (
            where services_received is not null and services_recommended is not null
        ) as persons_status_known,
        count(*) filter (where services_received is null or services_recommended is null) as persons_status_unknown,
        count(services_received) as received_set_known,
        count(services_recommended) as recommended_set_known
    from built_persons
    group by all
),

received_services as (
    select
        person_id,
        mapping_year,
        municipality_code,
        finest_group as user_group,
        layout,
        services_recommended,
        unnest(list_distinct(services_received)) as service_code
    from built_persons
),

recommended_services as (
    select
        person_id,
        mapping_year,
        municipality_code,
        finest_group as user_group,
        layout,
        services_received,
        unnest(list_distinct(services_recommended)) as service_code
    from built_persons
),

person_services as (
    -- the counts of rule 7 at the finest grain (year, municipality, group, service asked), read from the persons'
    -- sets of services instead of a row per person and service, each a sum over three parts: the persons by
    -- layout, the services received and those recommended ("none" = persons with both sets known less the
    -- received and the new)
    select
        person_layouts.mapping_year,
        person_layouts.municipality_code,
        person_layouts.user_group,
        services.service_code,
        person_layouts.persons_status_known,
        person_layouts.persons_status_unknown,
        person_layouts.received_set_known,
        person_layouts.recommended_set_known,
        person_layouts.persons_status_known as status_none
    from person_layouts
    inner join services
        on {{ asked_in_layout('person_layouts.layout', 'services') }}
    union all by name
    select
        received_services.mapping_year,
        received_services.municipality_code,
        received_services.user_group,
        received_services.service_code,
        count(*) as received_in_known_set,
        count(*) filter (
            where list_contains(received_services.services_recommended, received_services.service_code)
        ) as status_continue,
        count(*) filter (
            where not list_contains(received_services.services_recommended, received_services.service_code)
        ) as status_end,
        count(*) filter (where received_services.services_recommended is not null) as received,
        -count(*) filter (where received_services.services_recommended is not null) as status_none
    from received_services
    inner join services
        on
            received_services.service_code = services.service_code
            and ({{ asked_in_layout('received_services.layout', 'services') }})
    group by all
    union all by name
    select
        recommended_services.mapping_year,
        recommended_services.municipality_code,
        recommended_services.user_group,
        recommended_services.service_code,
        count(*) as recommended_in_known_set,
        count(*) filter (
            where not list_contains(recommended_services.services_received, recommended_services.service_code)
        ) as status_new,
        count(*) filter (where recommended_services.services_received is not null) as recommended,
        -count(*) filter (
            where not list_contains(recommended_services.services_received, recommended_services.service_code)
        ) as status_none
    from recommended_services
    inner join services
        on
            recommended_services.service_code = services.service_code
            and ({{ asked_in_layout('recommended_services.layout', 'services') }})
    group by all
),

candidate_next_years as (
    -- the next mappings a person-year can be followed to: of the cells its municipality and group count in
    select distinct
        built_persons.person_id,
        built_persons.mapping_year,
        participation.next_mapping_year
    from built_persons
    inner join geography_rollup
        on built_persons.municipality_code = geography_rollup.municipality_code
    inner join group_rollup
        on built_persons.finest_group = group_rollup.finest_group
    inner join participation
        on
            geography_rollup.geo_level = participation.geo_level
            and geography_rollup.geo_code = participation.geo_code
            and built_persons.mapping_year = participation.mapping_year
            and group_rollup.user_group = participation.user_group
    where participation.next_mapping_year is not null
),

mapped_again as (
    -- a person-year and the same person at one of its next mappings (any municipality)
    select
        this_mapping.person_id,
        this_mapping.mapping_year,
        this_mapping.municipality_code,
        this_mapping.finest_group,
        this_mapping.layout,
        this_mapping.services_recommended,
        next_mapping.mapping_year as next_mapping_year,
        next_mapping.municipality_code as next_municipality_code,
        next_mapping.layout as next_layout,
        next_mapping.services_received as next_services_received
    from built_persons as this_mapping
    inner join candidate_next_years
        on
            this_mapping.person_id = candidate_next_years.person_id
            and this_mapping.mapping_year = candidate_next_years.mapping_year
    inner join persons as next_mapping
        on
            candidate_next_years.person_id = next_mapping.person_id
            and candidate_next_years.next_mapping_year = next_mapping.mapping_year
),

{%- set pair = ['mapping_year', 'municipality_code', 'finest_group', 'next_mapping_year', 'next_municipality_code'] %}

pair_counts as (
    -- persons per year, municipality and group followed to a next mapping year and municipality: the grain the
    -- follow-up counts are taken at before they are summed into cells
    select
        {{ pair | join(', ') }},
        count(*) as mapped_again
    from mapped_again
    group by all
),

{%- set received_next -%}
    list_contains(mapped_again.next_services_received, services.service_code)
    and ({{ asked_in_layout('mapped_again.next_layout', 'services') }})
{%- endset %}
{%- set recommended -%}
    list_contains(mapped_again.services_recommended, services.service_code)
    and ({{ asked_in_layout('mapped_again.layout', 'services') }})
{%- endset %}

pair_services as (
    -- per pair and service: received at the next mapping, recommended at this one, or both
    select
        {%- for column in pair %}
        mapped_again.{{ column }},
        {%- endfor %}
        services.service_code,
        count(*) filter (where {{ received_next }}) as received_at_next_mapping,
        count(*) filter (where ({{ received_next }}) and ({{ recommended }})) as recommended_received_at_next_mapping,
        count(*) filter (where {{ recommended }}) as recommended_mapped_again_at_next_mapping
    from mapped_again
    inner join services
        on ({{ received_next }}) or ({{ recommended }})
    group by all
),

pair_geographies as materialized (
    -- the geographies a pair's municipality is in in both years (materialized: joined before the groups)
    select
        {%- for column in pair %}
        pair_counts.{{ column }},
        {%- endfor %}
        this_geography.geo_level,
        this_geography.geo_code
    from pair_counts
    inner join geography_rollup as this_geography
        on pair_counts.municipality_code = this_geography.municipality_code
    inner join geography_rollup as next_geography
        on
            pair_counts.next_municipality_code = next_geography.municipality_code
            and this_geography.geo_level = next_geography.geo_level
            and this_geography.geo_code = next_geography.geo_code
),

pair_cells as (
    -- the cells a pair counts in: those geographies, for the groups of its finest group, whose next mapping is the
    -- pair's next year
    select
        {%- for column in pair %}
        pair_geographies.{{ column }},
        {%- endfor %}
        participation.geo_level,
        participation.geo_code,
        participation.user_group
    from pair_geographies
    inner join group_rollup
        on pair_geographies.finest_group = group_rollup.finest_group
    inner join participation
        on
            pair_geographies.geo_level = participation.geo_level
            and pair_geographies.geo_code = participation.geo_code
            and pair_geographies.mapping_year = participation.mapping_year
            and group_rollup.user_group = participation.user_group
            and pair_geographies.next_mapping_year = participation.next_mapping_year
),

followed_up_counts as (
    select
        pair_cells.geo_level,
        pair_cells.geo_code,
        pair_cells.mapping_year,
        pair_cells.user_group,
        sum(pair_counts.mapped_again)::bigint as mapped_again_at_next_mapping
    from pair_cells
    inner join pair_counts
        on {{ same_keys('pair_cells', 'pair_counts', pair) }}
    group by all
),

service_follow_up as (
    select
        pair_cells.geo_level,
        pair_cells.geo_code,
        pair_cells.mapping_year,
        pair_cells.user_group,
        pair_services.service_code,
        sum(pair_services.received_at_next_mapping)::bigint as received_at_next_mapping,
        sum(pair_services.recommended_received_at_next_mapping)::bigint as recommended_received_at_next_mapping,
        sum(pair_services.recommended_mapped_again_at_next_mapping)::bigint
            as recommended_mapped_again_at_next_mapping
    from pair_cells
    inner join pair_services
        on {{ same_keys('pair_cells', 'pair_services', pair) }}
    group by all
),

rolled_up as (
    {% call rollup_to_participating(
        'person_services', keys=['service_code'], key_values='services_asked', key_values_by=['mapping_year']
    ) %}
        -- each count a sum over the parts of person_services
        coalesce(sum(persons_status_known), 0)::bigint as persons_status_known,
        coalesce(sum(persons_status_unknown), 0)::bigint as persons_status_unknown,
        coalesce(sum(received), 0)::bigint as received,
        coalesce(sum(recommended), 0)::bigint as recommended,
        coalesce(sum(status_continue), 0)::bigint as status_continue,
        coalesce(sum(status_new), 0)::bigint as status_new,
        coalesce(sum(status_end), 0)::bigint as status_end,
        coalesce(sum(status_none), 0)::bigint as status_none,
        coalesce(sum(received_set_known), 0)::bigint as received_set_known,
        coalesce(sum(received_in_known_set), 0)::bigint as received_in_known_set,
        coalesce(sum(recommended_set_known), 0)::bigint as recommended_set_known,
        coalesce(sum(recommended_in_known_set), 0)::bigint as recommended_in_known_set
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
                then coalesce(service_follow_up.recommended_mapped_again_at_next_mapping, 0)
        end as recommended_mapped_again_at_next_mapping,
        case
            when cells.is_asked_at_next_mapping then coalesce(service_follow_up.received_at_next_mapping, 0)
        end as received_at_next_mapping,
        case
            when cells.is_asked_at_next_mapping
                then coalesce(service_follow_up.recommended_received_at_next_mapping, 0)
        end as recommended_received_at_next_mapping
    from cells
    left join followed_up_counts
        on {{ same_keys('cells', 'followed_up_counts', cell) }}
    left join service_follow_up
        on {{ same_keys('cells', 'service_follow_up', cell + ['service_code']) }}
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
