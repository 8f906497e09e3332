{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). Per year (decisions W6): an incremental build reads
    only the partitions of its build years. -#}
{{ config(**per_year_config()) }}
{%- set years = build_years() if build_years() is not none and is_incremental() else none %}
{{ staged(landing_relation('registrations', years)) }}
