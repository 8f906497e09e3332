{#- Generic data tests written here because no dbt package hub is reachable. -#}

{% test unique_combination_of_columns(model, combination_of_columns, column_name=none) %}
    {#- The listed columns together identify a row (a composite primary key): no duplicates, no nulls. Grouped
        by a 64-bit hash of the key first, which is about twice as fast as grouping by the columns on the large
        person-level tables; only the rows whose hash repeats (a duplicate, or a rare hash collision) are then
        grouped by the columns themselves, so a collision is never reported as a duplicate (decisions W10). -#}
    {%- set key = combination_of_columns | join(', ') %}
    with repeated_hashes as (
        select hash({{ key }}) as key_hash
        from {{ model }}
        group by key_hash
        having count(*) > 1
    ),

    duplicated as (
        select
            {{ key }},
            count(*) as n_rows
        from {{ model }}
        where hash({{ key }}) in (select key_hash from repeated_hashes)
        group by all
        having count(*) > 1
    ),

    null_keys as (
        select
            {{ key }},
            1 as n_rows
        from {{ model }}
        where {% for column in combination_of_columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
    )

    select * from duplicated
    union all
    select * from null_keys
{% endtest %}

{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
    select *
    from {{ model }}
    where
        not coalesce(({{ expression }}), false)
        {%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{% test row_count_where(model, where_clause, expected, column_name=none) %}
    {#- Exactly `expected` rows satisfy the condition (a sanity check against the reference data). -#}
    select n_rows
    from (select count(*) as n_rows from {{ model }} where {{ where_clause }})
    where n_rows != {{ expected }}
{% endtest %}

{% macro tested_node(model, test_name, kinds=['model', 'seed']) %}
    {#- The graph node (of one of `kinds`, in this project) a model-level generic test reads its column
        declarations from; an error naming the test when `model` is none of them (e.g. a `where` config). The
        build years' rows of a per-year model (build_years.sql) are read as that model. -#}
    {%- set name = model.identifier if model.identifier is defined else build_years_subquery_model(model | string) %}
    {%- set node = project_node(name, kinds) if name is not none else none %}
    {%- if node is none %}
        {{ exceptions.raise_compiler_error(test_name ~ ': no ' ~ (kinds | join(' or ')) ~ ' ' ~ model) }}
    {%- endif %}
    {{ return(node) }}
{% endmacro %}

{% test column_constraints(model) %}
    {#- Every column constraint the model's (or seed's) YAML declares, checked in one scan of the model: one
        failing row per broken constraint, with the number of rows that break it. dbt's own contract
        semantics: `not_null` fails on a null; `check` fails where its expression is false (a null value, for
        which the expression is unknown, passes, like accepted_values). One test per model instead of one per
        column and check (about 40 ms of dbt overhead each; docs/decisions.md W3).
            columns:
              - name: sex
                constraints:
                  - type: not_null
                  - type: check
                    expression: "sex in ('M', 'F')"
        Other constraint types (unique, primary_key, foreign_key) are an error here: they have their own tests.
        A model with the test and no constraint is an error. -#}
    {%- set checks = [] %}
    {%- if execute %}
        {%- set node = tested_node(model, 'column_constraints') %}
        {%- for column in node.columns.values() %}
            {%- for constraint in column.constraints %}
                {%- if constraint.type == 'not_null' %}
                    {%- do checks.append({'name': column.name ~ ' not null', 'fails': column.name ~ ' is null'}) %}
                {%- elif constraint.type == 'check' %}
                    {%- do checks.append({'name': column.name ~ ': ' ~ constraint.expression,
                        'fails': 'not coalesce((' ~ constraint.expression ~ '), true)'}) %}
                {%- else %}
                    {{ exceptions.raise_compiler_error(node.name ~ '.' ~ column.name ~ ': column_constraints checks '
                        ~ 'not_null and check constraints, not ' ~ constraint.type) }}
                {%- endif %}
            {%- endfor %}
        {%- endfor %}
        {%- if not checks %}
            {{ exceptions.raise_compiler_error(node.name ~ ': column_constraints without a column constraint') }}
        {%- endif %}
    {%- endif %}

    with

    counted as (
        select
            {%- for check in checks %}
                count(*) filter (where {{ check.fails }}) as check_{{ loop.index }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ model }}
    ),

    broken as (
        {%- for check in checks %}
            select
                '{{ check.name | replace("'", "''") }}' as broken_constraint,
                check_{{ loop.index }} as failing_rows
            from counted
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )

    select
        broken_constraint,
        failing_rows
    from broken
    where failing_rows > 0
{% endtest %}
