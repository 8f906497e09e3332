{#- The roll-ups of the marts (rules 4, 5 and 7), each written once. Both take their aggregates from a call block:

        {% call rollup_to_participating(ref('fct_person_year')) %}
            count(*) as persons,
            count(*) filter (where is_adult) as persons_18plus
        {% endcall %}

    The block holds named aggregates over the rows given; it is the one place each count is written. -#}

{% macro cell_columns(relation=none) -%}
    {#- The columns that name a cell of the marts built by rollup_to_participating, in the order the marts show them:
        geography (level, code, name), mapping year and user group; qualified by `relation` when given. -#}
    {%- for column in ['geo_level', 'geo_code', 'geo_name', 'mapping_year', 'user_group'] %}
    {{ relation ~ '.' if relation }}{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro aggregate_over_geographies(rows, by=['mapping_year']) -%}
    {#- Rule 5: a select with the aggregates of the call block over `rows` at every geography each row's harmonised
        municipality counts in (int_geography_rollup: itself, its county, the country), so a county is the sum of
        its municipalities and the country the sum of its counties (for additive aggregates).

        rows  a relation (CTE) with a municipality_code (harmonised), the columns `by` and whatever the block reads
        by    the columns kept beside the geography (default [mapping_year])

        Returns `by`, geo_level, geo_code, geo_name, then the aggregates: one row per `by` and geography with rows. -#}
    select
        {%- for column in by %}
        {{ column }},
        {%- endfor %}
        geo_level,
        geo_code,
        geo_name,
        {{ caller() }}
    from (
        select
            rows.*,
            geography_rollup.geo_level,
            geography_rollup.geo_code,
            geography_rollup.geo_name
        from {{ rows }} as rows
        inner join {{ ref('int_geography_rollup') }} as geography_rollup
            on rows.municipality_code = geography_rollup.municipality_code
    )
    group by all
{%- endmacro %}

{% macro rollup_to_participating(rows, keys=[], key_values=none, key_values_by=[]) -%}
    {#- The one roll-up of the marts (rules 4, 5 and 7): a select, to be the body of a CTE, with one row per
        participating cell and the counts of the call block summed over user groups (int_user_group_rollup) and
        geographies (int_geography_rollup) into it, zero where the cell has no person.

        rows           a relation with a row per person (or per person and value of `keys`): mapping_year,
                       municipality_code (harmonised), user_group (the person's finest group, as in fct_person_year),
                       `keys`, and whatever the counts read.
        the call block the counts: named aggregates over `rows`. They are taken once at the finest grain (mapping
                       year, municipality, finest group, `keys`) and then summed, so every one is additive.
        keys           the finer keys of the mart besides geography, year and group (e.g. service_code).
        key_values     with `keys`: a relation (CTE) holding the values of `keys` a participating geography, year
                       and group has rows for, and any attributes of them (e.g. sort orders).
        key_values_by  the columns of int_participation_geography that key_values depends on and is joined on
                       (e.g. [mapping_year] when the values differ by year); empty: every cell takes every value.

        The cells are the rows of int_participation_geography (one per participating geography, year and group,
        rule 7), crossed with key_values. Returns every column of int_participation_geography, then those of
        key_values except key_values_by, then the counts, each coalesced to 0. In an incremental build of a
        per-year mart (decisions W9) only the build years' cells and rows are read; for any other model
        in_build_years() is true. -#}
    {%- set finest_keys = ['mapping_year', 'municipality_code', 'finest_group'] + keys %}
    {%- set cell_keys = ['geo_level', 'geo_code', 'mapping_year', 'user_group'] %}
    select
        participation.*,
        {%- if key_values %}
        key_values.*
            {%- if key_values_by %} exclude (
                {%- for column in key_values_by %}key_values.{{ column }}{{ ', ' if not loop.last }}{% endfor -%}
            ){%- endif %},
        {%- endif %}
        coalesce(
            columns(summed.* exclude (
                {%- for key in cell_keys + keys %}summed.{{ key }}{{ ', ' if not loop.last }}{% endfor -%}
            )),
            0
        )
    from {{ ref('int_participation_geography') }} as participation
    {%- if key_values and key_values_by %}
    inner join {{ key_values }} as key_values
        on
        {%- for column in key_values_by %}
            {{ 'and ' if not loop.first }}participation.{{ column }} = key_values.{{ column }}
        {%- endfor %}
    {%- elif key_values %}
    cross join {{ key_values }} as key_values
    {%- endif %}
    left join (
        select
            geography_rollup.geo_level,
            geography_rollup.geo_code,
            finest.mapping_year,
            group_rollup.user_group,
            {%- for key in keys %}
            finest.{{ key }},
            {%- endfor %}
            sum(columns(finest.* exclude (
                {%- for key in finest_keys %}finest.{{ key }}{{ ', ' if not loop.last }}{% endfor -%}
            )))
        from (
            select
                mapping_year,
                municipality_code,
                user_group as finest_group,
                {%- for key in keys %}
                {{ key }},
                {%- endfor %}
                {{ caller() }}
            from {{ rows }}
            where {{ in_build_years() }}
            group by all
        ) as finest
        inner join {{ ref('int_user_group_rollup') }} as group_rollup
            on finest.finest_group = group_rollup.finest_group
        inner join {{ ref('int_geography_rollup') }} as geography_rollup
            on finest.municipality_code = geography_rollup.municipality_code
        group by all
    ) as summed
        on
        {%- for key in cell_keys %}
            {{ 'and ' if not loop.first }}participation.{{ key }} = summed.{{ key }}
        {%- endfor %}
        {%- for key in keys %}
            and key_values.{{ key }} = summed.{{ key }}
        {%- endfor %}
    where {{ in_build_years('participation.mapping_year') }}
{%- endmacro %}
