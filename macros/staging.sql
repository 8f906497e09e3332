{% macro staged(relation) -%}
    {#- The whole body of a staging model (rename and cast only): a select of every column the model's YAML declares,
        in that order, from `relation` (a ref, or a select such as landing_relation's). Each column is read from its
        `meta.source_column` (default: its own name) and cast to its `data_type` where the YAML gives one, so a
        staging model's columns, names and types are declared once, beside their documentation. -#}
    {%- set source = '(' ~ relation ~ ')' if relation is string else relation %}
    {%- if execute %}
    select
        {%- for column in model.columns.values() %}
        {%- set read = column.meta.get('source_column', column.name) %}
        {{ 'cast(' ~ read ~ ' as ' ~ column.data_type ~ ')' if column.data_type else read }}
        {{- ' as ' ~ column.name if column.data_type or read != column.name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source }} as source
    {%- else %}
    select * from {{ source }} as source
    {%- endif %}
{%- endmacro %}
