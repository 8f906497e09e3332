{% macro same_keys(left, right, keys) -%}
    {#- A join condition: `left` and `right` agree on every column in `keys` (written once per join). -#}
    {%- for key in keys -%}
        {{ left }}.{{ key }} = {{ right }}.{{ key }}{{ ' and ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
