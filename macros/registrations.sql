{#- Shared pieces of the registration models, each written once. -#}

{% macro area_columns() -%}
    {#- The eight living-condition area columns and the index, in code-list order (seeds/codes/areas.csv). -#}
    area_housing,
    area_activity,
    area_economy,
    area_physical_health,
    area_mental_health,
    area_substance_use,
    area_social_functioning,
    area_network,
    living_index
{%- endmacro %}

{% macro deduplication_order() -%}
    {#- Rule 3's order among the current registrations of a person and year: most complete, latest mapped_on,
        agency priority, earliest delivery, then lowest registration_id and submission_id. -#}
    completeness desc,
    mapped_on desc,
    agency_priority asc,
    delivered_on asc,
    delivery_seq asc,
    registration_id asc,
    submission_id asc
{%- endmacro %}

{% macro asked_in_layout(layout, services) -%}
    {#- The join condition: the service (a dim_service row) was asked in the registration's layout. -#}
    ({{ layout }} = 'v1' and {{ services }}.asked_in_v1)
    or ({{ layout }} = 'v2' and {{ services }}.asked_in_v2)
    or ({{ layout }} = 'v3' and {{ services }}.asked_in_v3)
{%- endmacro %}

{% macro colour_severity(colour) -%}
    {#- A colour as a severity to compare over time: green 1 < yellow 2 < red 3; blue (blålys, the index only) counts
        as red; unknown is null. -#}
    case {{ colour }}
        when 'green' then 1
        when 'yellow' then 2
        when 'red' then 3
        when 'blue' then 3
    end
{%- endmacro %}
