{% macro rollup_to_participating(finest_counts, keys=[], key_values=none, key_values_by=[]) -%}
    {#- The one roll-up of the marts (rules 4, 5 and 7): a select, to be the body of a CTE, with one row per
        participating cell and the counts of `finest_counts` summed over user groups (int_user_group_rollup) and
        geographies (int_geography_rollup) into it, zero where the cell has no person.

        finest_counts  a relation (CTE) with one row per mapping_year, municipality_code (harmonised),
                       finest_group and `keys`; every other column is an additive count and is summed as it is
                       (a count is written once, there).
        keys           the finer keys of the mart besides geography, year and group (e.g. service_code).
        key_values     with `keys`: a relation (CTE) holding the values of `keys` a participating geography, year
                       and group has rows for, and any attributes of them (e.g. sort orders).
        key_values_by  the columns of int_participation_geography that key_values depends on and is joined on
                       (e.g. [mapping_year] when the values differ by year); empty: every cell takes every value.

        The cells are the rows of int_participation_geography (one per participating geography, year and group,
        rule 7), crossed with key_values. Returns every column of int_participation_geography, then those of
        key_values except key_values_by, then the counts, each coalesced to 0. -#}
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
        from {{ finest_counts }} as finest
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
{%- endmacro %}
