{#- Invariants of the marts, used by the singular tests tests/dbt/assert_mart_*.sql. -#}

{% macro mart_geography_additivity(model, keys, counts) -%}
    {#- Rows where a county differs from the sum of its municipalities or the country from the sum of its
        counties, for every column in `counts`, within every combination of `keys` (besides the geography).
        A county or country row without municipality rows (or the reverse) is a failure too. -#}
    with

    mart as (
        select * from {{ model }}
    ),

    municipalities as (
        select
            geo_code as municipality_code,
            county_code
        from {{ ref('int_geographies') }}
        where geo_level = 'municipality'
    ),

    county_from_municipalities as (
        select
            'county' as geo_level,
            municipalities.county_code as geo_code,
            {%- for key in keys %}
                mart.{{ key }},
            {%- endfor %}
            {%- for count in counts %}
                sum(mart.{{ count }}) as {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from mart
        inner join municipalities
            on mart.geo_code = municipalities.municipality_code
        where mart.geo_level = 'municipality'
        group by all
    ),

    country_from_counties as (
        select
            'country' as geo_level,
            'NO' as geo_code,
            {%- for key in keys %}
                {{ key }},
            {%- endfor %}
            {%- for count in counts %}
                sum({{ count }}) as {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from mart
        where geo_level = 'county'
        group by all
    ),

    expected as (
        select * from county_from_municipalities
        union all by name
        select * from country_from_counties
    ),

    actual as (
        select
            geo_level,
            geo_code,
            {%- for key in keys %}
                {{ key }},
            {%- endfor %}
            {%- for count in counts %}
                {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from mart
        where geo_level in ('county', 'country')
    )

    select
        coalesce(actual.geo_level, expected.geo_level) as geo_level,
        coalesce(actual.geo_code, expected.geo_code) as geo_code,
        {%- for key in keys %}
            coalesce(actual.{{ key }}, expected.{{ key }}) as {{ key }},
        {%- endfor %}
        {%- for count in counts %}
            actual.{{ count }} as actual_{{ count }},
            expected.{{ count }} as expected_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}
    from actual
    full outer join expected
        on
            actual.geo_level = expected.geo_level
            and actual.geo_code = expected.geo_code
            {%- for key in keys %}
                and actual.{{ key }} = expected.{{ key }}
            {%- endfor %}
    where
        actual.geo_level is null
        or expected.geo_level is null
        {%- for count in counts %}
            or actual.{{ count }} is distinct from expected.{{ count }}
        {%- endfor %}
{%- endmacro %}

{% macro mart_group_additivity(model, keys, counts) -%}
    {#- Rows where a coarser user group differs from the sum of its subgroups (rule 4): rus = rus_only +
        rop_less_serious + rop_serious + rus_mental_unknown, all = rus + mental. A missing subgroup row (no
        participation for that group) counts as zero; a coarser row must exist whenever a subgroup row does. -#}
    with

    mart as (
        select * from {{ model }}
    ),

    user_groups as (
        select
            user_group,
            parent_group
        from {{ ref('stg_codes__user_groups') }}
        where parent_group is not null
    ),

    expected as (
        select
            mart.geo_level,
            mart.geo_code,
            user_groups.parent_group as user_group,
            {%- for key in keys %}
                mart.{{ key }},
            {%- endfor %}
            {%- for count in counts %}
                sum(mart.{{ count }}) as {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from mart
        inner join user_groups
            on mart.user_group = user_groups.user_group
        group by all
    ),

    actual as (
        select
            mart.geo_level,
            mart.geo_code,
            mart.user_group,
            {%- for key in keys %}
                mart.{{ key }},
            {%- endfor %}
            {%- for count in counts %}
                mart.{{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from mart
        where mart.user_group in (select parent_group from user_groups)
    )

    select
        coalesce(actual.geo_level, expected.geo_level) as geo_level,
        coalesce(actual.geo_code, expected.geo_code) as geo_code,
        coalesce(actual.user_group, expected.user_group) as user_group,
        {%- for key in keys %}
            coalesce(actual.{{ key }}, expected.{{ key }}) as {{ key }},
        {%- endfor %}
        {%- for count in counts %}
            actual.{{ count }} as actual_{{ count }},
            expected.{{ count }} as expected_{{ count }}{{ ',' if not loop.last }}
        {%- endfor %}
    from actual
    full outer join expected
        on
            actual.geo_level = expected.geo_level
            and actual.geo_code = expected.geo_code
            and actual.user_group = expected.user_group
            {%- for key in keys %}
                and actual.{{ key }} = expected.{{ key }}
            {%- endfor %}
    where
        actual.user_group is null
        or expected.user_group is null
        {%- for count in counts %}
            or actual.{{ count }} is distinct from expected.{{ count }}
        {%- endfor %}
{%- endmacro %}
