{#- Incremental builds by mapping year (docs/decisions.md W6). `brukerplan build` passes the dbt var `build_years`
    (a list of mapping years, possibly empty) only when it builds into a copy of the live warehouse whose tables were
    built by the same project and settings and read a subset of the landing zone's submissions; the years are those
    of the submissions the live warehouse has not read. Without the var (a full build, or `dbt build` run directly)
    the per-year models are plain tables, exactly as before.

    A per-year model is one whose rows of a mapping year depend only on inputs of that year (and on code lists and
    reference data). With the var it is an incremental model: its rows of the build years are deleted (pre-hook) and
    selected again (its inputs filtered with `in_build_years()`), the other years stay as the live warehouse had
    them. tests/warehouse/test_incremental_build.py proves the result equals a full build. -#}

{% macro build_years() -%}
    {#- The mapping years of an incremental build (a list of integers), or none for a full build. -#}
    {%- set years = var('build_years', none) -%}
    {%- if years is none or years is string and years | trim == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if years is string -%}
        {%- set years = fromjson(years) -%}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- for year in years -%}
        {%- do checked.append(year | int) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}

{% macro per_year_config() -%}
    {#- The config of a per-year table model: a table, or an incremental model when the build has build years. -#}
    {%- if build_years() is none -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': ["{{ delete_build_years() }}"],
    }) }}
{%- endmacro %}

{% macro year_list(years) -%}
    {%- if years | length == 0 -%}
        null
    {%- else -%}
        {{ years | join(', ') }}
    {%- endif -%}
{%- endmacro %}

{% macro delete_build_years() -%}
    {#- Pre-hook: the live rows of the build years go (nothing when the table is being created). is_incremental()
        is asked only with build years: a unit test has no relation to ask about. -#}
    {%- if build_years() is not none and is_incremental() -%}
        delete from {{ this }} where mapping_year in ({{ year_list(build_years()) }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro in_build_years(column='mapping_year') -%}
    {#- A where condition: true for every row in a full build, only for the build years' rows in an incremental one. -#}
    {%- if build_years() is not none and is_incremental() -%}
        {{ column }} in ({{ year_list(build_years()) }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
