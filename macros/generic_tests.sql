{#- Generic data tests written here because no dbt package hub is reachable. -#}

{% test unique_combination_of_columns(model, combination_of_columns, column_name=none) %}
    {#- The listed columns together identify a row (a composite primary key): no duplicates, no nulls. -#}
    with keyed as (
        select {{ combination_of_columns | join(', ') }}
        from {{ model }}
    ),

    duplicated as (
        select
            {{ combination_of_columns | join(', ') }},
            count(*) as n_rows
        from keyed
        group by all
        having count(*) > 1
    ),

    null_keys as (
        select
            {{ combination_of_columns | join(', ') }},
            1 as n_rows
        from keyed
        where {% for column in combination_of_columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
    )

    select * from duplicated
    union all
    select * from null_keys
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    select {{ column_name }} as out_of_range
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            false
            {%- if min_value is not none %}
                or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
                or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
            {%- endif %}
        )
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

{% test matches_pattern(model, column_name, pattern) %}
    select {{ column_name }} as bad_value
    from {{ model }}
    where {{ column_name }} is not null and not regexp_full_match({{ column_name }}, '{{ pattern }}')
{% endtest %}
