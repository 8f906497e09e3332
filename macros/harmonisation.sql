{#- Rule 5 (harmonisation) helpers: the target municipality structure is the dbt var `target_structure`. -#}

{% macro target_structure_year() -%}
    {#- The year of the target structure. Only the 2024 map exists in the reference data. -#}
    {%- set target = var('target_structure') | string | trim -%}
    {%- if target != '2024' -%}
        {{ exceptions.raise_compiler_error(
            "var target_structure = '" ~ target ~ "' is not supported: the reference data hold only "
            ~ "municipality_map_2024.csv (use 2024, the default)") }}
    {%- endif -%}
    {{ return(target | int) }}
{%- endmacro %}

{% macro target_municipality_map() -%}
    {#- One row per registered municipality code: its single target code, the target's name and county, and whether
        the mapping is approximate (the code's area was split: it goes to the successor with the largest weight,
        ties by lowest code). Persons are never fractioned. -#}
    {%- set target_date = "make_date(" ~ target_structure_year() ~ ", 1, 1)" -%}
    select
        map.municipality_code as municipality_code_registered,
        map.target_municipality_code as municipality_code,
        target.municipality_name,
        target.county_code,
        county.county_name,
        map.is_approximate
    from (
        select
            municipality_code,
            target_municipality_code,
            count(*) over (partition by municipality_code) > 1
            or bool_or(is_approximate) over (partition by municipality_code) as is_approximate
        from {{ ref('stg_reference__municipality_map_2024') }}
        qualify row_number() over (
            partition by municipality_code order by weight desc, target_municipality_code asc
        ) = 1
    ) as map
    left join {{ ref('stg_reference__municipalities') }} as target
        on
            map.target_municipality_code = target.municipality_code
            and target.valid_from <= {{ target_date }}
            and (target.valid_to is null or target.valid_to > {{ target_date }})
    left join {{ ref('stg_reference__counties') }} as county
        on
            target.county_code = county.county_code
            and county.valid_from <= {{ target_date }}
            and (county.valid_to is null or county.valid_to > {{ target_date }})
{%- endmacro %}

{% macro harmonised(relation, registered_code='municipality_code_registered') -%}
    {#- Rule 5 for any rows: a select of every column of `relation` and the target structure's municipality_code and
        county_code of its registered municipality code (the column `registered_code`), with is_approximate (false
        where the code has no successor in the map; the codes are then null). One row per row of `relation`. -#}
    select
        rows.*,
        target_map.municipality_code,
        target_map.county_code,
        coalesce(target_map.is_approximate, false) as is_approximate
    from {{ relation }} as rows
    left join ({{ target_municipality_map() }}) as target_map
        on rows.{{ registered_code }} = target_map.municipality_code_registered
{%- endmacro %}
