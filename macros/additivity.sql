{#- The additivity of the marts (rules 4 and 5), one generic test for all of them. -#}

{% test additive_over_groups_and_geographies(model, keys) %}
    {#- Rows where a sum does not hold, for every column the model's YAML marks additive in its meta:
            config: {meta: {additive_over: [groups, geographies]}}   or   {additive_over: [geographies]}
        groups       a coarser user group is the sum of its subgroups (rule 4): rus = rus_only + rop_less_serious
                     + rop_serious + rus_mental_unknown, all = rus + mental (parents from the user-group code list).
        geographies  a county is the sum of its municipalities, the country the sum of its counties (rule 5).
        A missing subgroup or municipality row (no participation) counts as zero; a coarser row must exist exactly
        when a row it sums does.
        keys         the grain of the model besides geo_level and geo_code (e.g. [mapping_year, user_group, area,
                     colour]); the groups check needs user_group among them.
        `model` is a model of this project without a `where` config: its columns are read from the graph. A model
        with the test and no marked column is an error. -#}
    {%- set additive = {'groups': [], 'geographies': []} %}
    {%- if execute %}
        {%- set node = tested_node(model, 'additive_over_groups_and_geographies', ['model']) %}
        {%- for column in node.columns.values() %}
            {%- for dimension in column.meta.get('additive_over', []) %}
                {%- if dimension not in additive %}
                    {{ exceptions.raise_compiler_error(node.name ~ '.' ~ column.name
                        ~ ': additive_over takes groups and geographies, not ' ~ dimension) }}
                {%- endif %}
                {%- do additive[dimension].append(column.name) %}
            {%- endfor %}
        {%- endfor %}
        {%- if not (additive.groups or additive.geographies) %}
            {{ exceptions.raise_compiler_error(node.name ~ ': no column has meta additive_over') }}
        {%- endif %}
        {%- if additive.groups and 'user_group' not in keys %}
            {{ exceptions.raise_compiler_error(node.name ~ ': additive over groups needs user_group in keys') }}
        {%- endif %}
    {%- endif %}
    {#- each check: the columns a row's parent replaces, and the other columns of the grain -#}
    {%- set checks = [] %}
    {%- if additive.groups %}
        {%- do checks.append({'name': 'groups', 'counts': additive.groups, 'child': ['user_group'],
            'same': ['geo_level', 'geo_code'] + (keys | reject('equalto', 'user_group') | list)}) %}
    {%- endif %}
    {%- if additive.geographies %}
        {%- do checks.append({'name': 'geographies', 'counts': additive.geographies,
            'child': ['geo_level', 'geo_code'], 'same': keys}) %}
    {%- endif %}

    with

    mart as (
        select * from {{ model }}
    ),

    groups_parents as (
        select
            user_group,
            parent_group as parent_user_group
        from {{ ref('stg_codes__user_groups') }}
        where parent_group is not null
    ),

    geographies_parents as (
        select
            geo_level,
            geo_code,
            case geo_level when 'municipality' then 'county' else 'country' end as parent_geo_level,
            case geo_level when 'municipality' then county_code else 'NO' end as parent_geo_code
        from {{ ref('int_geographies') }}
        where geo_level in ('municipality', 'county')
    )

    {%- for check in checks %},

    {{ check.name }}_expected as (
        -- every parent row from the sum of its children
        select
            {%- for column in check.child %}
                parents.parent_{{ column }} as {{ column }},
            {%- endfor %}
            {%- for column in check.same %}
                mart.{{ column }},
            {%- endfor %}
            {%- for count in check.counts %}
                sum(mart.{{ count }}) as {{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from mart
        inner join {{ check.name }}_parents as parents
            on
                {%- for column in check.child %}
                    {{ 'and ' if not loop.first }}mart.{{ column }} = parents.{{ column }}
                {%- endfor %}
        group by all
    ),

    {{ check.name }}_failures as (
        select
            '{{ check.name }}' as additive_over,
            {%- for column in check.child + check.same %}
                coalesce(actual.{{ column }}, expected.{{ column }}) as {{ column }},
            {%- endfor %}
            {%- for count in check.counts %}
                actual.{{ count }} as actual_{{ count }},
                expected.{{ count }} as expected_{{ count }}{{ ',' if not loop.last }}
            {%- endfor %}
        from (
            select * from mart
            where {{ check.child[0] }} in (select parents.parent_{{ check.child[0] }} from {{ check.name }}_parents as parents)
        ) as actual
        full outer join {{ check.name }}_expected as expected
            on
                {%- for column in check.child + check.same %}
                    {{ 'and ' if not loop.first }}actual.{{ column }} = expected.{{ column }}
                {%- endfor %}
        where
            actual.{{ check.child[0] }} is null
            or expected.{{ check.child[0] }} is null
            {%- for count in check.counts %}
                or actual.{{ count }} is distinct from expected.{{ count }}
            {%- endfor %}
    )
    {%- endfor %}

    {% for check in checks %}
        select * from {{ check.name }}_failures
        {% if not loop.last %}union all by name{% endif %}
    {% endfor %}
{% endtest %}
